"""The aiohttp shadow proxy: pass-through, sampling and ramp, shadow dispatch, write validation."""
