# device: command line of the runtime: batch (CSV in -> CSV out) and serve (stdin lines -> output lines).
"""MICROPYPATH=device micropython -m tinypolicy batch --model M.bin --input IN.csv --output OUT.csv
MICROPYPATH=device micropython -m tinypolicy serve --model M.bin
(`-m tinypolicy` forwards here; `-m tinypolicy_app.batch ...` is the same.)

Columns (`columns`): the pendulum shape (angle + affine input, one output) reads `theta,theta_dot` (rad, rad/s)
and writes `torque`; any other net reads `in0,...,in{n-1}` and writes `out0,...` (argmax head: the class index).
batch: IN.csv rows of n_inputs floats (blank lines are skipped; the first non-blank line may be the header of the
input names, whitespace ignored; any other such line is a data row). OUT.csv (must not be IN.csv itself): a
header, then one row per input row:
  f32:        `torque` | `out0,...`                       (%.9g)
  int8, q15:  `torque,torque_q12` | `out0,...,out0_q,...`  (y = q / 2^out_frac exactly; q = the kernel's int32
                                    output for inputs floor(x * 2^in_frac + 0.5), for exact comparison with the host)
serve: reads input lines from stdin, writes one line of outputs (%.9g, comma-separated) per line and flushes;
`quit` or end of input ends it; a malformed line is answered with `error: line N: ...` and serving goes on.
Errors: one line `error: ...` on stderr, exit status 1 (2 for usage), no traceback; batch errors in IN.csv
(malformed row, not UTF-8, unreadable) name the line, and the partial OUT.csv is removed.
"""
import sys

from tinypolicy.errors import ModelError

USAGE = ("usage: micropython -m tinypolicy batch --model M.bin --input IN.csv --output OUT.csv\n"
         "       micropython -m tinypolicy serve --model M.bin")


class CliError(Exception):
    pass


def _options(args, names):
    opts = {}
    i = 0
    while i < len(args):
        key = args[i]
        if key not in names or i + 1 >= len(args):
            raise CliError("unexpected argument %r\n%s" % (key, USAGE))
        opts[names[key]] = args[i + 1]
        i += 2
    for name in names.values():
        if name not in opts:
            raise CliError("missing --%s\n%s" % (name, USAGE))
    return opts


def columns(p):
    """(input names, output names) of the CSV columns: the pendulum shape (an angle and an affine input, one
    output) keeps its documented names theta, theta_dot -> torque; any other net in0.. -> out0.."""
    if p.in_kind == (1, 0) and p.n_outputs == 1 and not p.argmax:
        return ("theta", "theta_dot"), ("torque",)
    return tuple("in%d" % i for i in range(p.n_inputs)), tuple("out%d" % j for j in range(p.n_outputs))


def parse_row(line, names):
    """'x0,x1,...' -> list of floats, one per name; ValueError with the reason (naming the column)."""
    fields = line.split(",")
    if len(fields) != len(names):
        raise ValueError("expected %d columns (%s), got %d" % (len(names), ",".join(names), len(fields)))
    vals = []
    for name, text in zip(names, fields):
        try:
            v = float(text)
        except ValueError:
            raise ValueError("%s: %r is not a number" % (name, text.strip()))
        if v - v != 0:  # nan or +-inf
            raise ValueError("%s: %r is not finite" % (name, text.strip()))
        vals.append(v)
    return vals


def _same_file(a, b, os):
    """True when b exists and is a: the same inode, or where stat has no inodes (FAT, littlefs: 0) the same
    absolute normalized path, ignoring case (FAT)."""
    try:
        sa, sb = os.stat(a), os.stat(b)
    except OSError:
        return False
    if sa[1] or sb[1]:
        return sa[1:3] == sb[1:3]
    norm = []
    for path in (a, b):
        parts = []  # type: list
        for p in (path if path[:1] == "/" else os.getcwd() + "/" + path).lower().split("/"):
            if p == "..":
                parts = parts[:-1]
            elif p and p != ".":
                parts.append(p)
        norm.append(parts)
    return norm[0] == norm[1]


def batch(model, in_path, out_path):
    """Streams row by row (constant memory); on any error the partial output file is removed."""
    import os

    from tinypolicy.policy import Policy

    p = Policy.load(model)
    quant = p.dtype != "f32"
    names, outs = columns(p)
    header = ",".join(outs)
    if quant:
        header += "," + ",".join(o + ("_q12" if len(outs) == 1 and outs[0] == "torque" else "_q") for o in outs)
    scale = [1 << f for f in p.out_frac]
    try:
        src = open(in_path)
    except OSError as exc:
        raise CliError("%s: cannot open (%s)" % (in_path, exc))
    if _same_file(in_path, out_path, os):  # open(out, "w") would truncate the input, the error path remove it
        src.close()
        raise CliError("%s: is the input file: refusing to overwrite it" % out_path)
    try:
        dst = open(out_path, "w")
    except OSError as exc:
        src.close()
        raise CliError("%s: cannot write (%s)" % (out_path, exc))
    n = 0
    head = True  # the header may be the first non-blank line
    try:
        dst.write(header + "\n")
        while True:
            n += 1
            try:
                line = src.readline()
                if not line:
                    break
                line = line.strip()
                if not line:
                    continue
                if head:
                    head = False
                    if "".join(line.split()) == ",".join(names):  # the header, whitespace ignored
                        continue
                ys = p.infer(parse_row(line, names))
            except (OSError, ValueError) as exc:  # malformed row; reading: EISDIR, EIO, UnicodeError (str() empty)
                raise CliError("%s line %d: %s" % (in_path, n, str(exc) or "not valid UTF-8 text"))
            if quant:  # y = q / 2^out_frac exactly
                dst.write(",".join("%.17g" % y for y in ys) + "," + ",".join(
                    "%d" % int(ys[j] * scale[j]) for j in range(len(ys))) + "\n")
            else:
                dst.write(",".join("%.9g" % y for y in ys) + "\n")
    except (CliError, OSError) as exc:  # OSError here: writing OUT.csv (disk full, ...)
        dst.close()
        try:
            # a regular file only; not /dev/stdout, /proc/self/fd/1 (a symlink to a regular file if redirected)
            if os.stat(out_path)[0] & 0xF000 == 0x8000 and out_path[:5] not in ("/dev/", "/proc"):
                os.remove(out_path)
        except OSError:
            pass
        if isinstance(exc, CliError):
            raise exc
        raise CliError("%s: cannot write (%s)" % (out_path, exc))
    finally:
        src.close()
        dst.close()
    return 0


def serve(model):
    from tinypolicy.policy import Policy

    p = Policy.load(model)
    names = columns(p)[0]
    n = 0
    while True:
        line = sys.stdin.readline()
        if not line:
            break
        n += 1
        line = line.strip()
        if line == "quit":
            break
        try:
            sys.stdout.write(",".join("%.9g" % y for y in p.infer(parse_row(line, names))) + "\n")
        except ValueError as exc:
            sys.stdout.write("error: line %d: %s\n" % (n, exc))
        if hasattr(sys.stdout, "flush"):
            sys.stdout.flush()
    return 0


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    cmd, rest = argv[0], argv[1:]
    try:
        if cmd == "batch":
            o = _options(rest, {"--model": "model", "--input": "input", "--output": "output"})
            return batch(o["model"], o["input"], o["output"])
        if cmd == "serve":
            o = _options(rest, {"--model": "model"})
            return serve(o["model"])
        raise CliError("unknown command %r\n%s" % (cmd, USAGE))
    except ModelError as exc:
        sys.stderr.write("error: %s\n" % exc)
        return 1
    except CliError as exc:
        sys.stderr.write("error: %s\n" % exc)
        return 2 if "usage:" in str(exc) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
