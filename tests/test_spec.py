"""Tests for derivtex.project.spec: TOML handout specs, their dataclasses and their errors."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from textwrap import dedent

import pytest

from derivtex.errors import DerivtexError, SpecError
from derivtex.project.spec import (
    DerivationSpec,
    Spec,
    load_spec,
    parse_spec,
    spec_error,
    spec_files,
)

FULL = dedent("""\
    title = "Vector, Matrix, and Tensor Derivatives"
    author = "Course staff"
    date = "Spring term"
    course = "CS 101"
    intro = "Read this first."

    [defaults]
    layout = "denominator"
    vectors = "bold"
    example = { y = 2 }
    templates = "my-templates"

    [[derivation]]
    name = "linear-map"
    title = "A matrix times a column vector"
    intro = "Plain text shown before the steps."
    given = "y = W x"
    shapes = { W = "C x D", x = "D" }
    wrt = "x"
    of = "y"
    example = { y = 3, x = [7, 2] }
    layout = "numerator"
    vectors = "arrow"

    [[derivation]]
    # inherits layout, vectors and example from [defaults]
    given = "z = a"
    shapes = { a = "3" }
    wrt = "a"
    """)

MINIMAL = dedent("""\
    title = "T"
    [[derivation]]
    given = "y = W x"
    shapes = { W = "C x D", x = "D" }
    wrt = "x"
    """)


def _error(text: str) -> SpecError:
    with pytest.raises(SpecError) as caught:
        parse_spec(text, "spec.toml")
    return caught.value


def _where(error: SpecError) -> tuple[object, ...]:
    """The error's .path, .line and .key fields."""
    return (error.path, error.line, error.key)


# --- valid specs ---


def test_full_spec_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "handout.toml"
    path.write_text(FULL, encoding="utf-8")
    spec = load_spec(path)
    assert spec == Spec(
        path=path,
        title="Vector, Matrix, and Tensor Derivatives",
        author="Course staff",
        date="Spring term",
        course="CS 101",
        intro="Read this first.",
        templates=tmp_path / "my-templates",
        derivations=spec.derivations,
    )
    first, second = spec.derivations
    assert first == DerivationSpec(
        name="linear-map",
        title="A matrix times a column vector",
        intro="Plain text shown before the steps.",
        given="y = W x",
        shapes=(("W", "C x D"), ("x", "D")),
        wrt="x",
        of="y",
        example=(("y", (3,)), ("x", (7, 2))),
        layout="numerator",
        vectors="arrow",
        line=13,
        key_lines=(
            ("name", 14),
            ("title", 15),
            ("intro", 16),
            ("given", 17),
            ("shapes", 18),
            ("wrt", 19),
            ("of", 20),
            ("example", 21),
            ("layout", 22),
            ("vectors", 23),
        ),
    )
    assert second == DerivationSpec(
        name="derivation-2",
        title=None,
        intro=None,
        given="z = a",
        shapes=(("a", "3"),),
        wrt="a",
        of=None,
        example=(("y", (2,)),),
        layout="denominator",
        vectors="bold",
        line=25,
        key_lines=(("given", 27), ("shapes", 28), ("wrt", 29)),
    )


def test_minimal_spec_uses_builtin_defaults() -> None:
    spec = parse_spec(MINIMAL)
    assert (spec.path, spec.author, spec.date, spec.course, spec.intro) == (
        Path("<string>"),
        None,
        None,
        None,
        None,
    )
    assert spec.templates is None
    (only,) = spec.derivations
    assert (only.name, only.layout, only.vectors, only.example, only.of) == (
        "derivation-1",
        "numerator",
        "arrow",
        (),
        None,
    )


@pytest.mark.parametrize(
    ("key", "line"),
    [("given", 3), ("shapes", 4), ("wrt", 5), ("of", 2), ("name", 2), ("no-such-key", 2)],
)
def test_line_of_falls_back_to_the_header(key: str, line: int) -> None:
    (only,) = parse_spec(MINIMAL).derivations
    assert only.line_of(key) == line


@pytest.mark.parametrize(
    ("templates", "expected"),
    [
        ("tpl", Path("specs/tpl")),
        ("../shared/tpl", Path("specs/../shared/tpl")),
        ("/abs/tpl", Path("/abs/tpl")),
    ],
)
def test_templates_resolve_against_the_spec_folder(templates: str, expected: Path) -> None:
    text = MINIMAL + f'[defaults]\ntemplates = "{templates}"\n'
    assert parse_spec(text, "specs/handout.toml").templates == expected


@pytest.mark.parametrize(
    ("example", "expected"),
    [
        ("{ y = 3 }", (("y", (3,)),)),
        ("{ y = [3] }", (("y", (3,)),)),
        ("{ W = [1, 2], x = 0 }", (("W", (1, 2)), ("x", (0,)))),
        ("{}", ()),
    ],
)
def test_example_normalises_to_tuples(example: str, expected: tuple) -> None:
    (only,) = parse_spec(MINIMAL + f"example = {example}\n").derivations
    assert only.example == expected


def test_derivation_example_replaces_defaults_example_whole() -> None:
    text = MINIMAL + "example = { x = 1 }\n[defaults]\nexample = { y = 2, x = 5 }\n"
    (only,) = parse_spec(text).derivations
    assert only.example == (("x", (1,)),)


def test_shapes_subtable_and_multiline_strings_keep_lines_right() -> None:
    text = dedent('''\
        title = "T"
        [[derivation]]
        intro = """
        [[derivation]]
        wrt = "not a key"
        """
        example = { x = [1,
          2] }
        given = "y = W x"
        wrt = "x"
        [derivation.shapes]
        W = "C x D"
        x = "D"
        ''')
    (only,) = parse_spec(text).derivations
    assert only.intro == '[[derivation]]\nwrt = "not a key"\n'
    assert only.shapes == (("W", "C x D"), ("x", "D"))
    assert [only.line_of(k) for k in ("intro", "example", "given", "wrt", "shapes")] == [
        3,
        7,
        9,
        10,
        11,
    ]


def test_dataclasses_are_frozen() -> None:
    spec = parse_spec(MINIMAL)
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.title = "other"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.derivations[0].wrt = "W"  # type: ignore[misc]


# --- errors: (TOML text, line counted by hand in that text, key, first line, hint part) ---

ERROR_CASES = [
    pytest.param(
        """\
        title = "T"

        [[derivation]]
        name = "linear-map"
        given = "y = W x"
        shapes = { W = "C x D", x = "D" }
        wtr = "x"
        """,
        7,
        "wtr",
        "derivation 'linear-map': unknown key 'wtr'",
        "did you mean 'wrt'?",
        id="unknown-derivation-key",
    ),
    pytest.param(
        """\
        titel = "T"
        """,
        1,
        "titel",
        "unknown key 'titel'",
        "did you mean 'title'?",
        id="unknown-top-key",
    ),
    pytest.param(
        """\
        title = "T"
        [defaults]
        vectors = "bold"
        layuot = "numerator"
        """,
        4,
        "layuot",
        "defaults: unknown key 'layuot'",
        "did you mean 'layout'?",
        id="unknown-defaults-key",
    ),
    pytest.param(
        """\
        title = "T"
        [[derivation]]
        given = "y = W x"
        colour = "red"
        """,
        4,
        "colour",
        "derivation 'derivation-1': unknown key 'colour'",
        "valid keys: name, title, intro, given, shapes, wrt, of, example, layout, vectors",
        id="unknown-key-without-close-match",
    ),
    pytest.param(
        """\
        author = "A"
        [[derivation]]
        given = "y = W x"
        """,
        1,
        "title",
        "missing required key 'title'",
        'add title = "..." to the file',
        id="missing-title",
    ),
    pytest.param(
        """\
        title = "T"
        [[derivation]]
        name = "first"
        given = "y = W x"
        shapes = { W = "C x D", x = "D" }
        wrt = "x"

        [[derivation]]
        given = "z = a"
        shapes = { a = "3" }
        """,
        8,
        "wrt",
        "derivation 'derivation-2': missing required key 'wrt'",
        'add wrt = "x" to this [[derivation]] table',
        id="missing-wrt",
    ),
    pytest.param(
        """\
        title = "T"
        [[derivation]]
        shapes = { x = "D" }
        wrt = "x"
        """,
        2,
        "given",
        "derivation 'derivation-1': missing required key 'given'",
        'add given = "y = W x"',
        id="missing-given",
    ),
    pytest.param(
        """\
        title = "T"
        [[derivation]]
        name = "n"
        given = "y = W x"
        wrt = "x"
        """,
        2,
        "shapes",
        "derivation 'n': missing required key 'shapes'",
        "add shapes = {",
        id="missing-shapes",
    ),
    pytest.param(
        """\
        title = "T"
        """,
        1,
        "derivation",
        "missing required key 'derivation'",
        "add a [[derivation]] table",
        id="no-derivations",
    ),
    pytest.param(
        """\
        title = "T"
        derivation = []
        """,
        2,
        "derivation",
        "key 'derivation': has no derivations",
        "add a [[derivation]] table",
        id="empty-derivation-array",
    ),
    pytest.param(
        """\
        title = "T"
        derivation = "y = W x"
        """,
        2,
        "derivation",
        "key 'derivation': expected [[derivation]] tables, got a string",
        "add a [[derivation]] table",
        id="derivation-not-tables",
    ),
    pytest.param(
        """\
        title = "T"
        [[derivation]]
        name = "linear-map"
        given = "y = W x"
        shapes = { W = "C x D", x = "D" }

        wrt = 3
        """,
        7,
        "wrt",
        "derivation 'linear-map': key 'wrt': expected a string, got an integer",
        'quote it: wrt = "..."',
        id="wrt-integer",
    ),
    pytest.param(
        """\
        title = 42
        """,
        1,
        "title",
        "key 'title': expected a string, got an integer",
        'quote it: title = "..."',
        id="title-integer",
    ),
    pytest.param(
        """\
        title = "T"
        date = 2024-05-01
        """,
        2,
        "date",
        "key 'date': expected a string, got a date/time",
        'quote it: date = "..."',
        id="date-unquoted",
    ),
    pytest.param(
        """\
        title = "T"
        [[derivation]]
        name = 5
        """,
        3,
        "name",
        "derivation 1: key 'name': expected a string, got an integer",
        'quote it: name = "..."',
        id="name-integer",
    ),
    pytest.param(
        """\
        title = "T"
        [[derivation]]
        name = "  "
        """,
        3,
        "name",
        "derivation 1: key 'name': is empty",
        'give it a value: name = "..."',
        id="name-blank",
    ),
    pytest.param(
        """\
        title = "T"
        [[derivation]]
        given = ""
        """,
        3,
        "given",
        "derivation 'derivation-1': key 'given': is empty",
        'give it a value: given = "..."',
        id="given-empty",
    ),
    pytest.param(
        """\
        title = "T"
        [[derivation]]
        given = "y = W x"
        shapes = "C x D"
        """,
        4,
        "shapes",
        "derivation 'derivation-1': key 'shapes': expected a table, got a string",
        'write shapes = { W = "C x D", x = "D" }',
        id="shapes-not-table",
    ),
    pytest.param(
        """\
        title = "T"
        [[derivation]]
        given = "y = W x"
        shapes = {}
        """,
        4,
        "shapes",
        "derivation 'derivation-1': key 'shapes': is empty; name the shape of every input",
        'write shapes = { W = "C x D", x = "D" }',
        id="shapes-empty",
    ),
    pytest.param(
        """\
        title = "T"
        [[derivation]]
        given = "y = W x"
        shapes = { W = "C x D", x = 4 }
        """,
        4,
        "shapes.x",
        "derivation 'derivation-1': key 'shapes.x': expected a shape string, got an integer",
        'write shapes = { W = "C x D", x = "D" }',
        id="shape-integer",
    ),
    pytest.param(
        """\
        title = "T"
        [[derivation]]
        given = "y = W x"
        wrt = "x"
        [derivation.shapes]
        W = "C x D"
        x = ["D"]
        """,
        5,
        "shapes.x",
        "derivation 'derivation-1': key 'shapes.x': expected a shape string, got an array",
        'write shapes = { W = "C x D", x = "D" }',
        id="shape-in-subtable",
    ),
    pytest.param(
        """\
        title = "T"
        [[derivation]]
        given = "y = W x"
        shapes = { W = "C x D", x = "D" }
        wrt = "x"
        example = { x = "7" }
        """,
        6,
        "example.x",
        "derivation 'derivation-1': key 'example.x': "
        "expected an integer or an array of integers, got a string",
        "write example = { y = 3, x = [7, 2] }",
        id="example-string",
    ),
    pytest.param(
        """\
        title = "T"
        [[derivation]]
        given = "y = W x"
        shapes = { W = "C x D", x = "D" }
        wrt = "x"
        example = { x = [1, 2.5] }
        """,
        6,
        "example.x",
        "derivation 'derivation-1': key 'example.x': "
        "expected an integer or an array of integers, got an array holding a float",
        "write example = { y = 3, x = [7, 2] }",
        id="example-array-with-float",
    ),
    pytest.param(
        """\
        title = "T"
        [[derivation]]
        given = "y = W x"
        shapes = { W = "C x D", x = "D" }
        wrt = "x"
        example = { x = [] }
        """,
        6,
        "example.x",
        "derivation 'derivation-1': key 'example.x': "
        "expected an integer or an array of integers, got an empty array",
        "write example = { y = 3, x = [7, 2] }",
        id="example-empty-array",
    ),
    pytest.param(
        """\
        title = "T"
        [defaults]
        example = { x = true }
        """,
        3,
        "example.x",
        "defaults: key 'example.x': expected an integer or an array of integers, got a boolean",
        "write example = { y = 3, x = [7, 2] }",
        id="defaults-example-boolean",
    ),
    pytest.param(
        """\
        title = "T"
        [[derivation]]
        given = "y = W x"
        shapes = { W = "C x D", x = "D" }
        wrt = "x"
        example = 3
        """,
        6,
        "example",
        "derivation 'derivation-1': key 'example': expected a table, got an integer",
        "write example = { y = 3, x = [7, 2] }",
        id="example-not-table",
    ),
    pytest.param(
        """\
        title = "T"
        [[derivation]]
        given = "y = W x"
        shapes = { W = "C x D", x = "D" }
        wrt = "x"
        layout = "denom"
        """,
        6,
        "layout",
        "derivation 'derivation-1': key 'layout': 'denom' is not one of 'numerator', 'denominator'",
        "did you mean 'denominator'?",
        id="layout-bad-choice",
    ),
    pytest.param(
        """\
        title = "T"

        [defaults]
        layout = "numerator"
        vectors = "hat"
        """,
        5,
        "vectors",
        "defaults: key 'vectors': 'hat' is not one of 'arrow', 'bold'",
        'write vectors = "arrow"',
        id="defaults-vectors-bad-choice",
    ),
    pytest.param(
        """\
        title = "T"
        defaults = "numerator"
        """,
        2,
        "defaults",
        "key 'defaults': expected a table, got a string",
        "write [defaults] then lines like",
        id="defaults-not-table",
    ),
    pytest.param(
        """\
        title = "T"
        [defaults]
        templates = ""
        """,
        3,
        "templates",
        "defaults: key 'templates': is empty",
        'give it a value: templates = "..."',
        id="templates-empty",
    ),
    pytest.param(
        """\
        title = "T"
        [[derivation]]
        given = "y = W x"
        shapes = { W = "C x D", x = "D" }
        wrt = "x"
        layout = "numerator"
        [defaults]
        layout = "upside-down"
        """,
        8,
        "layout",
        "defaults: key 'layout': 'upside-down' is not one of 'numerator', 'denominator'",
        'write layout = "numerator"',
        id="bad-defaults-reported-even-if-overridden",
    ),
    pytest.param(
        """\
        title = "T"
        [[derivation]]
        intro = '''
        wrt = 3
        '''
        given = "y = W x"
        shapes = { W = "C x D", x = "D" }
        wrt = 4
        """,
        8,
        "wrt",
        "derivation 'derivation-1': key 'wrt': expected a string, got an integer",
        'quote it: wrt = "..."',
        id="key-after-multiline-string",
    ),
    pytest.param(
        """\
        title = "T"
        derivation = [
          { given = "y = W x", shapes = { x = "D" }, wrt = 3 },
        ]
        """,
        2,
        "wrt",
        "derivation 'derivation-1': key 'wrt': expected a string, got an integer",
        'quote it: wrt = "..."',
        id="inline-array-falls-back-to-its-key",
    ),
]


@pytest.mark.parametrize(("text", "line", "key", "message", "hint"), ERROR_CASES)
def test_spec_errors_name_file_line_and_key(
    text: str, line: int, key: str, message: str, hint: str
) -> None:
    error = _error(dedent(text))
    assert str(error).split("\n") == [f"spec.toml:{line}: {message}", f"hint: {error.hint}"]
    assert hint in (error.hint or "")
    assert _where(error) == ("spec.toml", line, key)
    assert error.reason == message  # the message without its place, for reports
    assert isinstance(error, DerivtexError) and error.exit_code == 2


@pytest.mark.parametrize(
    ("text", "line", "message", "hint"),
    [
        pytest.param(
            'title = "T"\n[[derivation]]\ngiven = y = W x\n',
            3,
            "invalid TOML: Invalid value (column 9)",
            "text values need quotes",
            id="unquoted-value",
        ),
        pytest.param(
            'title = "T"\n[[derivation]]\nwrt = "x"\nwrt = "W"\n',
            4,
            "invalid TOML: Cannot overwrite a value (column 10)",
            "given twice",
            id="duplicate-key",
        ),
        pytest.param(
            'title = "T"\n[defaults]\nlayout = "x"\n[defaults]\n',
            4,
            "invalid TOML: Cannot declare ('defaults',) twice (column 10)",
            "given twice",
            id="duplicate-table",
        ),
        pytest.param(
            'title = "T"\nauthor = "A\n',
            2,
            "invalid TOML: Illegal character '\\n' (column 12)",
            "a quoted string is not closed",
            id="unterminated-string",
        ),
        pytest.param(
            'title = "T"\nintro = """never closed\n\n',
            2,
            "invalid TOML: Unterminated string (at the end of the file)",
            "a quoted string is not closed",
            id="end-of-document",
        ),
    ],
)
def test_toml_syntax_errors_carry_their_line(text: str, line: int, message: str, hint: str) -> None:
    error = _error(text)
    assert str(error).split("\n")[0] == f"spec.toml:{line}: {message}"
    assert hint in (error.hint or "")
    assert _where(error) == ("spec.toml", line, None)


# --- duplicate names ---


@pytest.mark.parametrize(
    ("first_name", "second_name", "line", "first_line"),
    [
        ('name = "a"', 'name = "a"', 8, 2),
        ("", 'name = "derivation-1"', 8, 2),
    ],
    ids=["same-explicit-name", "explicit-name-equals-derived-name"],
)
def test_duplicate_names(first_name: str, second_name: str, line: int, first_line: int) -> None:
    text = dedent(f"""\
        title = "T"
        [[derivation]]
        {first_name}
        given = "y = W x"
        shapes = {{ x = "D" }}
        wrt = "x"
        [[derivation]]
        {second_name}
        given = "y = W x"
        shapes = {{ x = "D" }}
        wrt = "x"
        """)
    error = _error(text)
    name = second_name.split('"')[1]
    assert str(error).split("\n")[0] == (
        f"spec.toml:{line}: derivation '{name}': key 'name': "
        f"'{name}' is already the name of the derivation at line {first_line}"
    )
    assert error.hint == 'give every derivation its own name = "..."'
    assert _where(error) == ("spec.toml", line, "name")


# --- reading files ---


def test_load_spec_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(SpecError) as caught:
        load_spec(missing)
    assert str(caught.value).startswith(f"{missing}: cannot read the spec file: No such file")
    assert _where(caught.value) == (str(missing), None, None)
    assert caught.value.hint


def test_load_spec_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('title = "Übung"\n'.encode("latin-1"))
    with pytest.raises(SpecError, match=r"latin1\.toml: not UTF-8 text \(byte 9\)"):
        load_spec(path)


def test_load_spec_accepts_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + MINIMAL.encode())
    assert load_spec(str(path)).derivations[0].line == 2


def test_errors_name_the_path_as_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "bad.toml").write_text("title = 1\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SpecError) as caught:
        load_spec("specs/bad.toml")
    assert str(caught.value).startswith("specs/bad.toml:1: key 'title': expected a string")


def test_spec_error_helper_sets_attributes() -> None:
    error = spec_error(Path("a/b.toml"), 3, "derivation 'x': key 'wrt': bad", "fix it", "wrt")
    assert str(error) == "a/b.toml:3: derivation 'x': key 'wrt': bad\nhint: fix it"
    assert _where(error) == ("a/b.toml", 3, "wrt")


# --- spec_files ---


def _touch(folder: Path, *names: str) -> None:
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(MINIMAL, encoding="utf-8")


def test_spec_files_expands_a_folder_sorted_and_flat(tmp_path: Path) -> None:
    _touch(tmp_path, "b.toml", "a.toml", "notes.txt", "sub/c.toml")
    (tmp_path / "dir.toml").mkdir()
    assert spec_files([tmp_path]) == (tmp_path / "a.toml", tmp_path / "b.toml")


def test_spec_files_keeps_files_in_order_and_dedupes(tmp_path: Path) -> None:
    _touch(tmp_path, "a.toml", "b.toml", "other.txt")
    given: list[Path | str] = [tmp_path / "other.txt", str(tmp_path), tmp_path / "a.toml"]
    assert spec_files(given) == (tmp_path / "other.txt", tmp_path / "a.toml", tmp_path / "b.toml")


@pytest.mark.parametrize(
    ("make_folder", "message"),
    [(False, "no such file or folder"), (True, "folder holds no *.toml spec files")],
    ids=["missing", "empty-folder"],
)
def test_spec_files_errors(tmp_path: Path, make_folder: bool, message: str) -> None:
    target = tmp_path / "specs"
    if make_folder:
        target.mkdir()
    with pytest.raises(SpecError) as caught:
        spec_files([target])
    assert str(caught.value).split("\n")[0] == f"{target}: {message}"
    assert caught.value.hint


# --- shared shapes, lists of variables, steps and named givens ---

NETWORK = dedent("""\
    title = "A two-layer network"
    [defaults]
    shapes = { W1 = "H x D", b1 = "H", x = "D" }
    steps = ["chain_rule"]
    [givens]
    layer = "z = W1 x + b1; h = sigmoid(z)"
    [[derivation]]
    name = "layer"
    title = "The first layer"
    given = "layer"
    wrt = ["W1", "b1", "x"]
    [[derivation]]
    name = "own-shapes"
    given = "y = W1 x"
    shapes = { W1 = "C x D" }
    wrt = "x"
    steps = []
    """)


def test_a_list_of_variables_makes_one_titled_derivation_each() -> None:
    spec = parse_spec(NETWORK)
    names = [(d.name, d.title, d.wrt) for d in spec.derivations]
    assert names == [
        ("layer-W1", "The first layer: by W1", "W1"),
        ("layer-b1", "The first layer: by b1", "b1"),
        ("layer-x", "The first layer: by x", "x"),
        ("own-shapes", None, "x"),
    ]
    assert {d.given for d in spec.derivations[:3]} == {"z = W1 x + b1; h = sigmoid(z)"}


def test_defaults_shapes_merge_under_each_derivations_own_and_steps_inherit() -> None:
    first, *_, own = parse_spec(NETWORK).derivations
    assert dict(first.shapes) == {"W1": "H x D", "b1": "H", "x": "D"}
    assert dict(own.shapes) == {"W1": "C x D", "b1": "H", "x": "D"}  # its own W1 wins
    assert (first.steps, own.steps) == (("chain_rule",), ())
    assert parse_spec(MINIMAL).derivations[0].steps is None  # no steps key: every step


def test_a_name_that_is_no_given_is_the_text_itself() -> None:
    text = NETWORK.replace('given = "y = W1 x"', 'given = "layer2"')
    assert parse_spec(text).derivations[-1].given == "layer2"  # then the parser says what is wrong


def test_a_list_of_variables_keeps_names_unique() -> None:
    text = NETWORK.replace('name = "own-shapes"', 'name = "layer-x"')
    error = _error(text)
    assert "'layer-x' is already the name of the derivation at line 7" in str(error)


SPEC_ADDITION_ERRORS = [
    pytest.param(
        'wrt = ["W1", "b1", "x"]',
        "wrt = []",
        11,
        "derivation 'layer': key 'wrt': expected a name or an array of names, got an empty array",
        "one section per variable",
        id="wrt-empty-list",
    ),
    pytest.param(
        'wrt = ["W1", "b1", "x"]',
        'wrt = ["W1", 3]',
        11,
        "derivation 'layer': key 'wrt': expected a name or an array of names, got an array"
        " holding other than names",
        "one section per variable",
        id="wrt-list-of-numbers",
    ),
    pytest.param(
        'wrt = ["W1", "b1", "x"]',
        'wrt = ["W1", "W1"]',
        11,
        "derivation 'layer': key 'wrt': 'W1' is listed twice",
        "once",
        id="wrt-twice",
    ),
    pytest.param(
        'steps = ["chain_rule"]',
        'steps = ["chain_rules"]',
        4,
        "defaults: key 'steps': unknown step kind 'chain_rules'",
        "did you mean 'chain_rule'?",
        id="defaults-step-typo",
    ),
    pytest.param(
        "steps = []",
        'steps = "chain_rule"',
        17,
        "derivation 'own-shapes': key 'steps': expected an array of step kinds, got a string",
        'steps = ["sum_expansion"',
        id="steps-not-an-array",
    ),
    pytest.param(
        'shapes = { W1 = "H x D", b1 = "H", x = "D" }',
        'shape = { W1 = "H x D", b1 = "H", x = "D" }',
        3,
        "defaults: unknown key 'shape'",
        "did you mean 'shapes'?",
        id="defaults-shape-typo",
    ),
    pytest.param(
        'layer = "z = W1 x + b1; h = sigmoid(z)"',
        "layer = 3",
        5,
        "key 'givens.layer': expected the text of statements, got an integer",
        "[givens]",
        id="given-not-text",
    ),
]


@pytest.mark.parametrize(("old", "new", "line", "message", "hint"), SPEC_ADDITION_ERRORS)
def test_spec_addition_errors_name_the_line(old, new, line, message, hint) -> None:
    assert old in NETWORK
    error = _error(NETWORK.replace(old, new))
    assert str(error).split("\n")[0] == f"spec.toml:{line}: {message}"
    assert hint in (error.hint or "")


def test_shapes_are_required_only_when_defaults_have_none() -> None:
    error = _error(MINIMAL.replace('shapes = { W = "C x D", x = "D" }\n', ""))
    assert "missing required key 'shapes'" in str(error)
    assert "shapes in [defaults]" in (error.hint or "")


# --- answer_space: the room after each exercise (issue 11) ---

SPACED = MINIMAL.replace("[[derivation]]", '[defaults]\nanswer_space = "4cm"\n\n[[derivation]]', 1)


@pytest.mark.parametrize(
    ("written", "kept"),
    [("6cm", "6cm"), ("2.5in", "2.5in"), (" 12 pt ", "12pt"), (".5em", ".5em"), ("30mm", "30mm")],
)
def test_answer_space_is_a_tex_length(written: str, kept: str) -> None:
    spec = parse_spec(MINIMAL.replace('wrt = "x"', f'wrt = "x"\nanswer_space = "{written}"'))
    assert spec.derivations[0].answer_space == kept


def test_answer_space_defaults_and_per_derivation() -> None:
    assert parse_spec(MINIMAL).derivations[0].answer_space is None  # the sheet's own default
    assert parse_spec(SPACED).derivations[0].answer_space == "4cm"
    own = SPACED.replace('wrt = "x"', 'wrt = "x"\nanswer_space = "1in"')
    assert parse_spec(own).derivations[0].answer_space == "1in"


@pytest.mark.parametrize(
    ("value", "message", "hint"),
    [
        ('"6"', "'6' is not a TeX length (a number and a unit)", 'answer_space = "6cm"'),
        ('"6px"', "'6px' is not a TeX length", "units: pt, mm, cm, in, em, ex"),
        ('"-2cm"', "'-2cm' is not a TeX length", "units: pt"),
        ('"6cm}\\\\input{x"', "is not a TeX length", 'answer_space = "6cm"'),
        ('"100cm"', "'100cm' is longer than a page", '"24cm" or less'),
        ("6", "expected a string, got an integer", "quote it"),
    ],
)
def test_bad_answer_space_names_its_line(value: str, message: str, hint: str) -> None:
    error = _error(SPACED.replace('answer_space = "4cm"', f"answer_space = {value}"))
    assert str(error).split("\n")[0].startswith("spec.toml:3: defaults: key 'answer_space': ")
    assert message in str(error) and hint in (error.hint or "")
