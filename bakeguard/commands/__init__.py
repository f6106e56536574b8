"""One module per thing `bakeguard` does besides passing bake through; cli.py picks one."""
