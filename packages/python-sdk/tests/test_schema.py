"""Schema generation from type hints and docstrings, and validation against it (no server)."""

from __future__ import annotations

import base64
import dataclasses
import enum
from typing import Annotated, Any, Literal, NotRequired, TypedDict, Union

import pytest
import tools_fixture
from trellis_worker import ToolContext, ToolDefinitionError, ValidationError, collect_tools, tool
from trellis_worker.docstrings import parse_docstring
from trellis_worker.payload import decode_arguments


def test_add_schema_and_description_come_from_hints_and_docstring():
    spec = tools_fixture.add.__trellis_tool__
    assert spec.name == "add"
    assert spec.description == "Add two integers."
    assert spec.idempotent is True
    assert spec.schema == {
        "type": "object",
        "properties": {
            "a": {"type": "integer", "description": "The first addend."},
            "b": {"type": "integer", "description": "The second addend."},
        },
        "required": ["a", "b"],
        "additionalProperties": False,
    }


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Named(TypedDict):
    name: str


class Partial(TypedDict):
    a: int
    b: NotRequired[Annotated[str, "optional key"]]


def test_scalar_container_optional_literal_and_defaults():
    @tool
    def f(
        i: int,
        x: float,
        s: str,
        flag: bool,
        raw: bytes,
        names: list[str],
        counts: dict[str, int],
        maybe: int | None = None,  # noqa: UP007 - the typing form must work too
        either: Union[int, str] = 1,  # noqa: UP007
        pipe: int | None = 3,
        mode: Literal["a", "b"] = "a",
        color: Color = Color.RED,
        anything=None,
        pair: tuple[int, ...] = (),
        described: Annotated[int, "set through Annotated"] = 0,
    ) -> None:
        """Summary line
        that continues.

        More text that is not part of the description.
        """

    spec = f.__trellis_tool__
    assert spec.description == "Summary line that continues."
    p = spec.schema["properties"]
    assert p["i"] == {"type": "integer"}
    assert p["x"] == {"type": "number"}
    assert p["s"] == {"type": "string"}
    assert p["flag"] == {"type": "boolean"}
    assert p["raw"] == {
        "type": "string",
        "contentEncoding": "base64",
        "contentMediaType": "application/octet-stream",
    }
    assert p["names"] == {"type": "array", "items": {"type": "string"}}
    assert p["counts"] == {"type": "object", "additionalProperties": {"type": "integer"}}
    assert p["maybe"] == {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None}
    assert p["either"] == {"anyOf": [{"type": "integer"}, {"type": "string"}], "default": 1}
    assert p["pipe"] == {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": 3}
    assert p["mode"] == {"enum": ["a", "b"], "default": "a"}
    assert p["color"] == {"enum": ["red", "blue"]}  # an Enum default is not a JSON value
    assert p["anything"] == {"default": None}
    assert p["pair"] == {"type": "array", "items": {"type": "integer"}, "default": []}
    assert p["described"] == {"type": "integer", "default": 0}
    assert spec.schema["required"] == ["i", "x", "s", "flag", "raw", "names", "counts"]
    assert spec.raw_bytes_param is None  # other required parameters: a raw payload cannot feed it


def test_typeddict_and_dataclass_become_nested_objects():
    schema = tools_fixture.summarize.__trellis_tool__.schema
    items = schema["properties"]["items"]
    assert items["type"] == "array"
    assert items["items"]["properties"] == {"name": {"type": "string"}, "qty": {"type": "integer"}}
    assert items["items"]["required"] == ["name", "qty"]
    assert items["items"]["additionalProperties"] is False
    scale = schema["properties"]["scale"]["anyOf"][0]
    assert scale["properties"] == {"factor": {"type": "number"}, "label": {"type": "string", "default": "x"}}
    assert scale["required"] == ["factor"]
    assert scale["description"] == "Multiplier applied to the result."
    assert schema["required"] == ["items"]
    assert schema["properties"]["mode"]["description"] == "How to combine the quantities."


def test_context_parameter_is_not_part_of_the_schema():
    @tool
    def by_annotation(x: int, context: ToolContext) -> int:
        return x

    @tool
    def by_name(ctx, x: int) -> int:
        return x

    for f in (by_annotation, by_name):
        spec = f.__trellis_tool__
        assert list(spec.schema["properties"]) == ["x"]
    assert by_annotation.__trellis_tool__.context_param == "context"
    assert by_name.__trellis_tool__.context_param == "ctx"


def test_not_required_keys_and_optional_context():
    @tool
    def f(p: Partial, ctx: ToolContext | None = None) -> None:  # noqa: UP007
        ...

    spec = f.__trellis_tool__
    assert spec.context_param == "ctx"
    assert spec.schema["properties"]["p"] == {
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "string", "description": "optional key"}},
        "required": ["a"],
        "additionalProperties": False,
    }
    assert spec.params.convert({"p": {"a": 1}}, "") == {"p": {"a": 1}}


def test_kinds_are_detected():
    kinds = {name: s.kind for name, s in collect_tools([tools_fixture]).items()}
    assert kinds["add"] == "sync"
    assert kinds["ahang"] == "async"
    assert kinds["count"] == "generator"
    assert kinds["acount"] == "async_generator"
    assert tools_fixture.count.__trellis_tool__.streaming
    assert not tools_fixture.add.__trellis_tool__.streaming


def test_raw_bytes_parameter_is_the_single_bytes_parameter():
    assert tools_fixture.reverse_bytes.__trellis_tool__.raw_bytes_param == "data"
    assert tools_fixture.add.__trellis_tool__.raw_bytes_param is None


def test_decorator_options_and_plain_call_still_work():
    @tool(name="renamed", description="Custom.")
    def original(x: int) -> int:
        return x * 2

    assert original(4) == 8  # the function itself is unchanged
    assert original.__trellis_tool__.name == "renamed"
    assert original.__trellis_tool__.description == "Custom."


@pytest.mark.parametrize(
    ("annotation", "fragment"),
    [
        (set[int], "unsupported type annotation"),
        (dict[int, str], "dict keys must be str"),
        (tuple[int, str], "fixed-length tuples"),
    ],
)
def test_unsupported_annotations_fail_at_decoration_naming_the_parameter(annotation: Any, fragment: str):
    def f(bad):  # annotation set below so the test can parametrize it
        return bad

    f.__annotations__ = {"bad": annotation}
    with pytest.raises(ToolDefinitionError) as info:
        tool(f)
    assert "'bad'" in str(info.value)
    assert fragment in str(info.value)


def test_star_args_and_duplicate_names_are_refused():
    def star(*values: int) -> None: ...

    with pytest.raises(ToolDefinitionError, match=r"\*args"):
        tool(star)

    class A:
        pass

    mod_a, mod_b = A(), A()

    @tool(name="same")
    def one() -> None: ...

    @tool(name="same")
    def two() -> None: ...

    mod_a.__dict__["one"] = one
    mod_b.__dict__["two"] = two
    with pytest.raises(ToolDefinitionError, match="two tools are named 'same'"):
        collect_tools([mod_a, mod_b])  # type: ignore[list-item]


def test_docstring_args_section_with_types_and_continuations():
    summary, params = parse_docstring("""Do a thing.

        Args:
            first (int): The first
                value, continued.
            second: Plain.
            *rest: Ignored star.

        Returns:
            Nothing: not an argument.
        """)
    assert summary == "Do a thing."
    assert params == {"first": "The first value, continued.", "second": "Plain.", "rest": "Ignored star."}
    assert parse_docstring(None) == ("", {})


# --- validation ---------------------------------------------------------------------------------


def _validate(fn: Any, args: dict[str, Any]) -> dict[str, Any]:
    spec = fn.__trellis_tool__
    import json

    return decode_arguments(spec, json.dumps(args).encode(), "application/json")


def _path_of(fn: Any, args: dict[str, Any]) -> tuple[str, str]:
    with pytest.raises(ValidationError) as info:
        _validate(fn, args)
    return info.value.field_path, info.value.problem


def test_validation_reports_the_field_path_of_nested_errors():
    good = {"name": "a", "qty": 1}
    assert _path_of(tools_fixture.summarize, {"items": [good, good, {"name": 5, "qty": 1}]}) == (
        "items[2].name",
        "expected string, got integer",
    )
    assert _path_of(tools_fixture.summarize, {"items": [good, {"name": "b"}]}) == (
        "items[1].qty",
        "missing required field",
    )
    assert _path_of(tools_fixture.summarize, {"items": [good, {**good, "color": "red"}]})[0] == "items[1].color"
    assert _path_of(tools_fixture.summarize, {"items": [], "scale": {"factor": "big"}}) == (
        "scale.factor",
        "expected number, got string",
    )
    assert _path_of(tools_fixture.summarize, {"items": [], "tags": {"odd key": "x"}}) == (
        'tags["odd key"]',
        "expected integer, got string",
    )
    assert _path_of(tools_fixture.summarize, {"items": [], "mode": "avg"}) == (
        "mode",
        'expected one of "sum", "max", got "avg"',
    )


def test_validation_of_top_level_parameters():
    assert _path_of(tools_fixture.add, {"a": 1}) == ("b", "missing required parameter")
    path, problem = _path_of(tools_fixture.add, {"a": 1, "b": 2, "c": 3})
    assert path == "c" and "unknown parameter" in problem and "a, b" in problem
    assert _path_of(tools_fixture.add, {"a": True, "b": 2}) == ("a", "expected integer, got boolean")
    assert _path_of(tools_fixture.add, {"a": 1.5, "b": 2}) == ("a", "expected integer, got number")
    assert _validate(tools_fixture.add, {"a": 2.0, "b": 3}) == {"a": 2, "b": 3}


def test_validation_converts_to_the_annotated_python_types():
    out = _validate(tools_fixture.summarize, {"items": [{"name": "a", "qty": 2}], "scale": {"factor": 2}})
    assert out["scale"] == tools_fixture.Scale(factor=2.0)
    assert isinstance(out["scale"].factor, float)
    raw = bytes(range(256))
    assert _validate(tools_fixture.reverse_bytes, {"data": base64.b64encode(raw).decode()}) == {"data": raw}
    assert _path_of(tools_fixture.reverse_bytes, {"data": "not base64!"})[0] == "data"


def test_union_reports_the_deeper_error_of_the_matching_option():
    @tool
    def f(target: Point | Named | None) -> None: ...

    assert f.__trellis_tool__.params.convert({"target": {"x": 1, "y": 2}}, "")["target"] == Point(1, 2)
    with pytest.raises(ValidationError) as info:
        f.__trellis_tool__.params.convert({"target": {"x": 1, "y": "2"}}, "")
    assert info.value.field_path == "target.y"
    with pytest.raises(ValidationError) as info:
        f.__trellis_tool__.params.convert({"target": 3}, "")
    assert info.value.field_path == "target"


def test_payload_level_errors():
    spec = tools_fixture.add.__trellis_tool__
    with pytest.raises(ValidationError, match="not valid JSON"):
        decode_arguments(spec, b"{nope", "application/json")
    with pytest.raises(ValidationError, match="must be a JSON object"):
        decode_arguments(spec, b"[1, 2]", "")
    with pytest.raises(ValidationError, match="cannot take a raw"):
        decode_arguments(spec, b"\x00", "application/octet-stream")
    raw = tools_fixture.reverse_bytes.__trellis_tool__
    assert decode_arguments(raw, b"\x00\xff", "application/octet-stream") == {"data": b"\x00\xff"}
