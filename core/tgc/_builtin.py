"""The CPU backend, compiled into libtgc, registered through the same hook as any plugin."""
from tgc.hookspecs import hookimpl

@hookimpl
def tgc_backends() -> list[dict]: return [{"name": "CPU", "library": None, "manifest": None, "priority": 0}]
