"""API routers, one module per area; mounted under API_V1_STR by ``create_app``."""
