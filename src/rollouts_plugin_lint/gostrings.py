"""How Go writes a YAML number or boolean that lands in a string field. Pure functions,
no YAML parser: the checks quote these values in messages without loading ruamel.yaml."""

from __future__ import annotations

import math
import struct

_FLOAT32_MAX = 3.4028234663852886e38


def go_string(value: bool | int | float) -> str:
    """A YAML number or boolean as sigs.k8s.io/yaml turns it into a Go string field:
    strconv.FormatInt, or FormatFloat(v, 'g', -1, 32) (yaml.go convertToJSONableObject)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return format_float32(value)


def format_float32(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value) or abs(value) > _FLOAT32_MAX * (1 + 2**-25):
        return "+Inf" if value > 0 else "-Inf"
    single = struct.unpack("f", struct.pack("f", value))[0]
    if single == 0:
        return "-0" if math.copysign(1, single) < 0 else "0"
    for digits in range(1, 10):  # the shortest decimal that reads back as the same float32
        shown = f"{single:.{digits - 1}e}"
        if struct.unpack("f", struct.pack("f", float(shown)))[0] == single:
            break
    mantissa, exponent = shown.split("e")
    decimals = mantissa.replace(".", "").lstrip("-")
    sign = "-" if single < 0 else ""
    power = int(exponent)
    # strconv's 'g' at the shortest precision uses %e for exponents < -4 or >= 6.
    if power < -4 or power >= 6:
        rest = decimals[1:]
        mark = "-" if power < 0 else "+"
        return f"{sign}{decimals[0]}{'.' + rest if rest else ''}e{mark}{abs(power):02d}"
    if power >= len(decimals) - 1:
        return sign + decimals + "0" * (power - len(decimals) + 1)
    if power >= 0:
        return f"{sign}{decimals[: power + 1]}.{decimals[power + 1 :]}"
    return f"{sign}0.{'0' * (-power - 1)}{decimals}"
