"""Finding and rendering the Jinja2 templates of the Kubernetes bundle, and their YAML filters."""

from __future__ import annotations

import functools
import json
import re
import site
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from aaprof.errors import AaprofError

if TYPE_CHECKING:
    import jinja2

# Where the wheel's `[tool.setuptools.data-files]` puts the templates, below an install prefix.
DATA_SUBDIR = Path("share", "aaprof", "templates")

# Characters YAML (1.1, as PyYAML reads it) does not accept literally in a scalar, or reads as a
# line break: C0 controls but tab and newline, DEL, C1 controls (NEL U+0085 is a YAML 1.1 line
# break), surrogates, the Unicode line/paragraph separators, the BOM and the non-characters.
_NOT_LITERAL = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufeff\ufffe\uffff]"
)


def yaml_string(value: object) -> str:
    """A scalar as a double-quoted JSON string, which is also a valid YAML flow scalar.

    Whatever the value holds, the result is one scalar: `"`, `\\`, newlines and control
    characters are escaped, so it cannot close the string, start a key or end the document.
    Non-ASCII characters stay literal (YAML's `\\u` escapes cannot pair surrogates) except the
    few YAML rejects or reads as line breaks, which get a `\\uXXXX` escape (valid JSON too).
    """
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise AaprofError(f"cannot render {type(value).__name__} as a YAML string")
    text = json.dumps(str(value), ensure_ascii=False)
    return _NOT_LITERAL.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def yaml_text(value: str, indent: int) -> str:
    """Multi-line text as a literal block scalar at column `indent`, else a JSON string.

    The block header carries an explicit indentation indicator, 2 (a first line may start with
    spaces, and YAML counts the indicator from the owner's indentation, so the key or `- ` that
    owns the scalar must sit at column `indent - 2`), and the chomping that keeps the text's
    trailing newlines exactly: `-` for none, `+` for one or more. Text a block scalar cannot
    carry byte for byte (carriage returns, characters YAML rejects or reads as line breaks)
    goes out as a JSON string instead.

    Args:
        value: The text.
        indent: The column of the block's lines.

    Returns:
        The scalar, to follow `key: ` or `- ` on the same line.
    """
    if not value or "\r" in value or _NOT_LITERAL.search(value):
        return yaml_string(value)
    chomp = "+" if value.endswith("\n") else "-"
    body = value[:-1] if value.endswith("\n") else value
    pad = " " * indent
    lines = "\n".join(pad + line if line else "" for line in body.split("\n"))
    return f"|2{chomp}\n{lines}"


def template_dirs() -> tuple[Path, ...]:
    """Where the templates may be, in the order they are looked for.

    A source checkout or editable install has them in `templates/` next to the package; a wheel
    installs them as data files under `<prefix>/share/aaprof/templates`.
    """
    package_root = Path(__file__).resolve().parent.parent.parent
    prefixes = (sys.prefix, sys.base_prefix, site.getuserbase())
    return (package_root / "templates", *(Path(p) / DATA_SUBDIR for p in prefixes))


def template_dir() -> Path:
    """The first of `template_dirs()` that holds the bundle's templates.

    Raises:
        AaprofError: None of them does (a broken install).
    """
    for directory in template_dirs():
        if (directory / "kustomization.yaml.j2").is_file():
            return directory
    looked = ", ".join(str(d) for d in template_dirs())
    raise AaprofError(f"aaprof's Kubernetes templates are missing; looked in {looked}")


@functools.cache
def environment(directory: Path | None = None) -> jinja2.Environment:
    """The Jinja2 environment of the bundle's templates: strict, unescaped, YAML filters.

    Args:
        directory: The template directory; `template_dir()` when None.
    """
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(directory or template_dir()),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["q"] = yaml_string
    env.filters["text"] = yaml_text
    return env


def render(name: str, context: Mapping[str, object]) -> str:
    """Render one template of the bundle.

    Raises:
        AaprofError: The template refers to a value the context does not give.
    """
    import jinja2

    try:
        return environment().get_template(name).render(context)
    except jinja2.UndefinedError as exc:
        raise AaprofError(f"template {name}: {exc}") from None
