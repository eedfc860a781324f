"""The vocabulary of shadowed traffic, shared by every stage: the API's endpoints and how a request
is parsed (routes), one primary exchange and its bodies (exchange), the identities the proxy gives
where the legacy gave none (identity), the shadowed request as it
travels from the proxy to the results store (shadowed).
"""
