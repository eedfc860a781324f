"""The reviewer UI: server-rendered HTML over the results store (aiohttp), behind a token."""
