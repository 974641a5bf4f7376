"""`tinypolicy demo`: command line of `tinypolicy_host.board.demo` (argument parsing, error reporting)."""
from pathlib import Path

from ..board.demo import DemoSettings, run_demo
from ..paths import LOGS, PLOTS


def add_arguments(parser):
    parser.add_argument("--log", type=Path, default=LOGS / "demo.csv", help="CSV log file (default logs/demo.csv)")
    parser.add_argument("--plots", type=Path, default=PLOTS, help="folder for the PNGs (default logs/plots/)")
    parser.add_argument("--no-plots", action="store_true", help="skip the plots")
    parser.add_argument("--duration-s", type=float, default=10.0)
    parser.add_argument("--period-ms", type=int, default=10)
    parser.add_argument("--dtype", choices=["int8", "q15", "f32"], default="int8")
    parser.add_argument("--noise", type=float, default=0.0, help="sensor noise sigma (rad, rad/s); default off")
    parser.add_argument("--mode", choices=["realtime", "batch"], default="realtime")
    parser.add_argument("--init-theta", type=float, default=None, help="start angle, rad (default pi: hanging)")
    parser.add_argument("--quiet", action="store_true", help="do not echo the device's messages")


def run(args) -> int:
    plots = None if args.no_plots else args.plots
    return run_demo(DemoSettings(log=args.log, plots=plots, duration_s=args.duration_s, period_ms=args.period_ms,
                                 dtype=args.dtype, noise=args.noise, mode=args.mode, init_theta=args.init_theta,
                                 echo=not args.quiet))
