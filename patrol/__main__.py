"""`python -m patrol` is the `patrol` command."""
from .cli import main

main()
