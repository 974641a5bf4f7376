# device (and host: plain Python, no device imports): the strict JSON rule for config files, on both sides.
"""One flat JSON object of scalars, parsed without recursion in bounded memory. The device app
(tinypolicy_app/config.py) reads config.json with it; the host's `flash` loads this same file under CPython to
check a config before copying it, so a file one side accepts the other accepts too (MicroPython's json module
would accept trailing commas, missing colons and commas, leading zeros, raw control characters ...)."""


class ConfigSyntaxError(ValueError):
    """Config text that is not a flat JSON object of scalars; message 'line L col C: what'."""


def _fail(text, i, what):
    line = text.count("\n", 0, i) + 1
    col = i - (text.rfind("\n", 0, i) + 1) + 1
    raise ConfigSyntaxError("line %d col %d: %s" % (line, col, what))


def _skip_ws(text, i):
    n = len(text)
    while i < n and text[i] in " \t\r\n":
        i += 1
    return i


_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def _string(text, i):
    """JSON string starting at text[i] == '"'. Returns (value, index after the closing quote)."""
    out = []
    i += 1
    start = i
    n = len(text)
    while True:
        if i >= n:
            _fail(text, start - 1, "unterminated string")
        c = text[i]
        if c == '"':
            out.append(text[start:i])
            return "".join(out), i + 1
        if c < " ":
            _fail(text, i, "control character in a string (escape it)")
        if c == "\\":
            out.append(text[start:i])
            e = text[i + 1:i + 2]
            if e in _ESCAPES:
                out.append(_ESCAPES[e])
                i += 2
            elif e == "u":
                h = text[i + 2:i + 6]
                if len(h) != 4 or not all(d in "0123456789abcdefABCDEF" for d in h):
                    _fail(text, i, "bad \\u escape")
                cp = int(h, 16)
                if 0xD800 <= cp <= 0xDFFF:  # surrogates: a MicroPython str cannot hold them
                    _fail(text, i, "\\u escape of a surrogate (write the character itself)")
                out.append(chr(cp))
                i += 6
            else:
                _fail(text, i, "bad escape in a string")
            start = i
        else:
            i += 1


def _digits(text, i):
    j = i
    while j < len(text) and "0" <= text[j] <= "9":
        j += 1
    return j


def _number(text, i):
    """JSON number at text[i]. Returns (int or float, index after it)."""
    start = i
    if text[i:i + 1] == "-":
        i += 1
    j = _digits(text, i)
    if j == i or (text[i] == "0" and j > i + 1):
        _fail(text, start, "bad number")
    i = j
    is_float = False
    if text[i:i + 1] == ".":
        j = _digits(text, i + 1)
        if j == i + 1:
            _fail(text, start, "bad number")
        i, is_float = j, True
    if text[i:i + 1] in ("e", "E"):
        i += 1
        if text[i:i + 1] in ("+", "-"):
            i += 1
        j = _digits(text, i)
        if j == i:
            _fail(text, start, "bad number")
        i, is_float = j, True
    if i - start > 40:
        _fail(text, start, "number longer than 40 characters")
    s = text[start:i]
    return (float(s) if is_float else int(s)), i


_WORDS = (("true", True), ("false", False), ("null", None))


def _value(text, i):
    c = text[i:i + 1]
    if c == '"':
        return _string(text, i)
    if c == "-" or "0" <= c <= "9":
        return _number(text, i)
    for word, value in _WORDS:
        if text.startswith(word, i):
            return value, i + len(word)
    if c in ("{", "["):
        _fail(text, i, "nested value (a config is a flat object of numbers and strings)")
    _fail(text, i, "expected a value" if c else "unexpected end")


def parse_text(text):
    """Strict JSON for a config: one flat object of scalars (strings, numbers, true/false/null), no duplicate
    keys, nothing after it. The same rule on the device and on the host (`flash` runs this module under CPython
    before copying): MicroPython's json accepts trailing commas, missing colons and more. No recursion, no
    allocation beyond the values: bounded by MAX_CONFIG_BYTES. Raises ConfigSyntaxError."""
    i = _skip_ws(text, 0)
    if text[i:i + 1] != "{":
        _fail(text, i, "want a JSON object of settings ({...})")
    data = {}
    i = _skip_ws(text, i + 1)
    if text[i:i + 1] == "}":
        i += 1
    else:
        while True:
            if text[i:i + 1] != '"':
                _fail(text, i, "expected a key in double quotes" + (
                    " (trailing comma?)" if text[i:i + 1] == "}" else ""))
            at = i
            key, i = _string(text, i)
            if key in data:
                _fail(text, at, "duplicate key %r" % key)
            i = _skip_ws(text, i)
            if text[i:i + 1] != ":":
                _fail(text, i, "expected ':' after the key")
            i = _skip_ws(text, i + 1)
            data[key], i = _value(text, i)
            i = _skip_ws(text, i)
            c = text[i:i + 1]
            if c == ",":
                i = _skip_ws(text, i + 1)
            elif c == "}":
                i += 1
                break
            else:
                _fail(text, i, "expected ',' or '}'")
    i = _skip_ws(text, i)
    if i != len(text):
        _fail(text, i, "text after the object")
    return data


def _utf8_ok(data):
    """Strict UTF-8 (no overlong forms, no surrogates, <= U+10FFFF): the same verdict as CPython's decoder."""
    i, n = 0, len(data)
    while i < n:
        b = data[i]
        if b < 0x80:
            i += 1
            continue
        if 0xC2 <= b <= 0xDF:
            k, lo, hi = 1, 0x80, 0xBF
        elif 0xE0 <= b <= 0xEF:
            k = 2
            lo, hi = (0xA0, 0xBF) if b == 0xE0 else (0x80, 0x9F) if b == 0xED else (0x80, 0xBF)
        elif 0xF0 <= b <= 0xF4:
            k = 3
            lo, hi = (0x90, 0xBF) if b == 0xF0 else (0x80, 0x8F) if b == 0xF4 else (0x80, 0xBF)
        else:
            return False
        if i + k >= n:
            return False
        if not lo <= data[i + 1] <= hi:
            return False
        for j in range(i + 2, i + k + 1):
            if not 0x80 <= data[j] <= 0xBF:
                return False
        i += k + 1
    return True


def parse_bytes(data, max_bytes):
    """Config file contents (bytes) -> dict of settings; ConfigSyntaxError for anything but a strict UTF-8 JSON
    object of at most max_bytes (see parse_text)."""
    if len(data) > max_bytes:
        raise ConfigSyntaxError("%d bytes, more than a config may have (%d)" % (len(data), max_bytes))
    if not _utf8_ok(data):
        raise ConfigSyntaxError("not UTF-8 text")
    return parse_text(data.decode())
