"""python -m tgc: the command line (doctor)."""
import sys, argparse
import tgc

def main(argv: list[str] | None = None) -> int:
  ap = argparse.ArgumentParser(prog="python -m tgc", description="tgc: tinygrad's engine in C. Commands: doctor.")
  ap.add_argument("--version", action="version", version=f"tgc {tgc.__version__}")
  sub = ap.add_subparsers(dest="command", metavar="COMMAND")
  doc = sub.add_parser("doctor", help="list every backend found (built-in, plugins, quarantined ones), its state, ABI, dialects, devices "
                                      "and capabilities, and the C compiler the CPU backend uses")
  doc.add_argument("--json", action="store_true", help="print the report as JSON")
  args = ap.parse_args(argv)
  if args.command is None:
    ap.print_help()
    return 0
  from tgc import doctor
  return doctor.main(json_out=args.json)

def _entry() -> int:
  try: return main()
  except BrokenPipeError:  # `python -m tgc doctor | head` closed the pipe: not an error
    sys.stderr.close()
    return 0

if __name__ == "__main__": sys.exit(_entry())
