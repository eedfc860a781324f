"""The ramp advisor: is it safe to shadow more of an endpoint's traffic?

`stats` (bounds on a rate, the Mann-Whitney U test, percentiles) and `decision` (go / hold / roll
back with a sentence per reason) are pure: no network or store client, so they are unit-tested
against hand-computed cases. `trail` is the shape of the ramp's audit trail the advisor reads (the
composition root supplies it from Redis); `gather` reads the evidence from the results store
(results/store/ramp_queries.py) and asks `decision`.
"""
