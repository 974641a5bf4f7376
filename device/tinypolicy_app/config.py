# device: application config: defaults, config.json, unix command-line flags, validation.
"""Keys (config.json beside main.py; on the unix port `--key-name VALUE` flags override the file):

| key | type | allowed | default |
|---|---|---|---|
| period_ms | int | 5 .. 50 | board.DEFAULT_PERIOD_MS (10) |
| model | str | path to a .bin blob | "" -> models/policy_<dtype>.bin |
| dtype | str | auto, f32, int8, q15 | auto (int8 when model is ""; else whatever the blob is) |
| mode | str | realtime, batch | realtime |
| duration_s | num | 0 .. 86400 (0: run until interrupted) | 10 |
| noise | num | 0 .. 1 (sigma on theta [rad] and theta_dot [rad/s]) | 0 |
| init_theta | num | -10 .. 10 rad (0 upright) | pi (hanging) |
| init_theta_dot | num | -8 .. 8 rad/s | 0 |
| log_level | str | error, warn, info, debug | info |
| decimation | int | 1 .. 1000 (log every N-th tick) | 1 |
| warmup | int | 0 .. 1000 inferences before the loop | 10 |
| seed | int | 0 .. 1073741823 (noise PRNG) | 1 |
| sensor | str | plant, replay, board | plant |
| actuator | str | sim, board | sim (board when sensor is board) |
| replay_input | str | path | data/inputs.csv |
| replay_output | str | path ("" = none) | "" |
| ring | int | 8 .. 1024 log rows buffered between tick and foreground | 128 |

Validation collects one message per bad key naming the key and the allowed range (non-finite and huge numbers
included); the bad key keeps its default. A missing config.json beside main.py is not an error; a file given with
`--config PATH` that cannot be read (missing, a directory, a FIFO), and any file that is not a strict JSON object of
scalars of at most MAX_CONFIG_BYTES (`parse_text`: the one rule the host's `flash` applies too, by running this
module under CPython), is one. What the app does with errors is app.py's choice (safe state).
"""

# key -> (kind, default, allowed): kind "int" / "num" -> (lo, hi); "str" -> tuple of choices or None (any)
SCHEMA = {  # type: dict
    "period_ms": ("int", 10, (5, 50)),
    "model": ("str", "", None),
    "dtype": ("str", "auto", ("auto", "f32", "int8", "q15")),
    "mode": ("str", "realtime", ("realtime", "batch")),
    "duration_s": ("num", 10, (0, 86400)),
    "noise": ("num", 0.0, (0, 1)),
    "init_theta": ("num", 3.141592653589793, (-10, 10)),
    "init_theta_dot": ("num", 0.0, (-8, 8)),
    "log_level": ("str", "info", ("error", "warn", "info", "debug")),
    "decimation": ("int", 1, (1, 1000)),
    "warmup": ("int", 10, (0, 1000)),
    "seed": ("int", 1, (0, 1073741823)),
    "sensor": ("str", "plant", ("plant", "replay", "board")),
    "actuator": ("str", "", ("", "sim", "board")),
    "replay_input": ("str", "data/inputs.csv", None),
    "replay_output": ("str", "", None),
    "ring": ("int", 128, (8, 1024)),
}


class UsageError(Exception):
    """A command-line mistake (unix port): unknown flag or missing value."""


def defaults(overrides=None):
    cfg = {}
    for key in SCHEMA:
        cfg[key] = SCHEMA[key][1]
    if overrides:
        for key in overrides:
            cfg[key] = overrides[key]
    return cfg


def allowed(key):
    kind, _, rng = SCHEMA[key]
    if kind in ("int", "num"):
        return "%s %s..%s" % ("integer" if kind == "int" else "number", rng[0], rng[1])
    if rng is None:
        return "a string"
    return "one of " + ", ".join(repr(c) for c in rng)


def check(key, value):
    """Return the normalized value or raise ValueError('key: value not allowed (allowed: ...)')."""
    if key not in SCHEMA:
        raise ValueError("%s: unknown key (known: %s)" % (key, ", ".join(sorted(SCHEMA))))
    kind, _, rng = SCHEMA[key]
    ok = True
    if kind == "int":
        # range first: int() of inf raises OverflowError, of nan ValueError, and a huge float makes a long int
        if isinstance(value, float) and rng[0] <= value <= rng[1] and value == int(value):
            value = int(value)
        ok = isinstance(value, int) and not isinstance(value, bool) and rng[0] <= value <= rng[1]
    elif kind == "num":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and rng[0] <= value <= rng[1]
        if ok:
            value = float(value)
    else:
        ok = isinstance(value, str) and (rng is None or value in rng)
    if not ok:
        raise ValueError("%s: %r not allowed (allowed: %s)" % (key, value, allowed(key)))
    return value


def merge(cfg, items, errors):
    """Validate and merge a dict of settings into cfg; bad entries go to `errors` and keep the old value."""
    for key in items:
        try:
            cfg[key] = check(key, items[key])
        except ValueError as exc:
            errors.append(str(exc.args[0]))
        except (OverflowError, TypeError):  # not expected from check(); still a config error naming the key
            errors.append("%s: %r not allowed (allowed: %s)" % (key, items[key], allowed(key)))


MAX_CONFIG_BYTES = 2048  # a config of every key is ~500 bytes; larger is refused before it is read (a 128K
# board's heap after the imports may have no free block much larger than 2 KB)


def read_json(path, errors, required=False):
    """The config file as a dict. A missing file is None (not an error) unless `required` (a path given with
    --config); any other problem (not a regular file, too large, unreadable, not strict JSON, not a flat object)
    goes to `errors` -> {}. The size is checked before anything is read."""
    import os

    from tinypolicy_app.files import not_regular  # here, not at the top: the host's `flash` loads this module too

    try:
        st = os.stat(path)
    except OSError as exc:
        if not required and exc.args and exc.args[0] == 2:  # ENOENT: no config.json beside main.py
            return None
        errors.append("%s: cannot read (%s)" % (path, exc))
        return {}
    kind = not_regular(path)
    if kind:  # a FIFO would block open() forever
        errors.append("%s: cannot read (%s, not a file)" % (path, kind))
        return {}
    if st[6] > MAX_CONFIG_BYTES:
        errors.append("%s: %d bytes, more than a config may have (%d)" % (path, st[6], MAX_CONFIG_BYTES))
        return {}
    import sys

    try:
        # The strict parser is needed at start-up only: imported here and dropped again, so its code does not take
        # heap the model load needs (a 128K board after the app's imports).
        from tinypolicy_app import strictjson

        with open(path, "rb") as f:
            data = f.read(st[6])  # its size: a 128K board's heap may have no 4 KB block free
        return strictjson.parse_bytes(data, MAX_CONFIG_BYTES)
    except OSError as exc:
        errors.append("%s: cannot read (%s)" % (path, exc))
    except ValueError as exc:  # strictjson.ConfigSyntaxError (the module may not have been imported)
        errors.append("%s: not valid JSON (%s)" % (path, exc.args[0] if exc.args else exc))
    except MemoryError:
        errors.append("%s: does not fit in the heap" % path)
    finally:  # forget the module (sys.modules and the package attribute): its code is garbage now
        sys.modules.pop("tinypolicy_app.strictjson", None)
        pkg = sys.modules.get("tinypolicy_app")
        if pkg is not None and "strictjson" in pkg.__dict__:
            delattr(pkg, "strictjson")
    return {}


def parse_flag_value(key, text):
    kind = SCHEMA[key][0]
    if kind == "int":
        try:
            return int(text)
        except ValueError:
            raise ValueError("%s: %r not allowed (allowed: %s)" % (key, text, allowed(key))) from None
    if kind == "num":
        try:
            return float(text)
        except ValueError:
            raise ValueError("%s: %r not allowed (allowed: %s)" % (key, text, allowed(key))) from None
    return text


def parse_argv(argv):
    """Unix flags: `--period-ms 7` (or `--period-ms=7`), `--config PATH`, `--help`. Returns (settings, options)
    where options holds config/help. Raises UsageError for an unknown flag or a missing value and ValueError
    for a value of the wrong type (message names the key)."""
    settings = {}
    options = {"config": None, "help": False}
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg in ("-h", "--help"):
            options["help"] = True
            continue
        if not arg.startswith("--"):
            raise UsageError("unexpected argument %r (flags are --key-name VALUE)" % arg)
        name, eq, value = arg[2:].partition("=")
        key = name.replace("-", "_")
        if key != "config" and key not in SCHEMA:
            raise UsageError("unknown flag --%s (known: %s)" % (name, " ".join(
                "--" + k.replace("_", "-") for k in sorted(SCHEMA))))
        if not eq:
            if i >= len(argv):
                raise UsageError("flag --%s needs a value" % name)
            value = argv[i]
            i += 1
        if key == "config":
            if not value:
                raise UsageError("flag --config needs a path (got an empty value)")
            options["config"] = value
        else:
            settings[key] = parse_flag_value(key, value)
    return settings, options


def usage():
    lines = ["usage: micropython main.py [--config PATH] [--key-name VALUE ...]", "keys:"]
    for key in SCHEMA:
        lines.append("  --%-16s %s (default %r)" % (key.replace("_", "-"), allowed(key), SCHEMA[key][1]))
    return "\n".join(lines)


def load(path, argv=None, overrides=None):
    """defaults (+ board overrides) <- config file <- flags. Returns (cfg, errors, options, found).
    Flag mistakes (unknown flag, missing or invalid value) raise UsageError; config file errors are collected
    in `errors` (the app then runs in the safe state). `path` (config.json beside main.py) may be missing:
    found is then False; a file given with --config must be readable (else an error in `errors`)."""
    errors = []  # type: list
    cfg = defaults(overrides)
    settings, options = parse_argv(argv or [])
    required = options["config"] is not None
    if required:
        path = options["config"]
    data = read_json(path, errors, required) if path else None
    found = data is not None
    if data:
        merge(cfg, data, errors)
    flag_errors = []  # type: list
    merge(cfg, settings, flag_errors)
    if flag_errors:
        raise UsageError("; ".join(flag_errors))
    return cfg, errors, options, found
