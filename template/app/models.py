"""The task table and the request/response shapes built around it."""

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints, field_validator
from pydantic import Field as PydanticField
from pydantic.json_schema import SkipJsonSchema
from sqlalchemy import Column, DateTime, Enum, String
from sqlmodel import Field, SQLModel

TITLE_MAX = 200
DESCRIPTION_MAX = 2000


class TaskStatus(StrEnum):
    pending = "pending"
    in_progress = "in_progress"
    done = "done"


def utcnow() -> datetime:
    return datetime.now(UTC)


def timestamp_column() -> Column[datetime]:
    return Column(DateTime(timezone=True), nullable=False)


STATUS_TYPE = Enum(
    TaskStatus, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e]
)


class Task(SQLModel, table=True):
    """A row in the `task` table (SQLModel's name for it); Alembic migrations own the schema."""

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(sa_column=Column(String(TITLE_MAX), nullable=False))
    description: str | None = Field(default=None, sa_column=Column(String(DESCRIPTION_MAX)))
    # Stored as VARCHAR + CHECK (not a native enum) so new states need no type migration
    status: TaskStatus = Field(
        default=TaskStatus.pending, sa_column=Column(STATUS_TYPE, nullable=False, index=True)
    )
    created_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=timestamp_column())


# Exactly the characters str.isspace() matches, spelled out so the OpenAPI pattern and the
# server agree whatever regex engine reads the pattern (ECMA, Rust and Python differ on \s)
WHITESPACE = (
    "\t\n\v\f\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_WS_CLASS = r"\x09-\x0d\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# No NUL anywhere; the title also needs one character that is neither NUL nor whitespace
NO_NUL_PATTERN = r"^[^\x00]*$"
TITLE_PATTERN = rf"^[^\x00]*[^\x00{_WS_CLASS}][^\x00]*$"


def _storable_text(value: str) -> str:
    # PostgreSQL text cannot hold NUL, and lone surrogates cannot be encoded as UTF-8
    if "\x00" in value:
        raise ValueError("must not contain NUL (\\u0000) characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text (no lone surrogates)") from None
    return value


def _strip_not_blank(value: str) -> str:
    # Length is checked on the text as sent (as the schema says); the stored title is trimmed
    stripped = value.strip(WHITESPACE)
    if not stripped:
        raise ValueError("must contain a non-whitespace character")
    return stripped


def _omit_default(schema: dict[str, Any]) -> None:
    # A null default would advertise a value that the field rejects
    schema.pop("default", None)


Title = Annotated[
    str,
    StringConstraints(min_length=1, max_length=TITLE_MAX),
    # Published in the OpenAPI schema; the validators below enforce it
    PydanticField(json_schema_extra={"pattern": TITLE_PATTERN}),
    AfterValidator(_storable_text),
    AfterValidator(_strip_not_blank),
]
Description = Annotated[
    str,
    StringConstraints(max_length=DESCRIPTION_MAX),
    PydanticField(json_schema_extra={"pattern": NO_NUL_PATTERN}),
    AfterValidator(_storable_text),
]


class TaskCreate(BaseModel):
    """Body of POST /tasks."""

    model_config = ConfigDict(extra="forbid")

    title: Title
    description: Description | None = None
    status: TaskStatus = TaskStatus.pending


class TaskUpdate(BaseModel):
    """Body of PATCH /tasks/{id}: only the fields sent are changed."""

    model_config = ConfigDict(extra="forbid")

    # Optional but not nullable: SkipJsonSchema keeps the internal None out of the schema
    title: Title | SkipJsonSchema[None] = PydanticField(None, json_schema_extra=_omit_default)
    description: Description | None = None
    status: TaskStatus | SkipJsonSchema[None] = PydanticField(None, json_schema_extra=_omit_default)

    @field_validator("title", "status", mode="before")
    @classmethod
    def _reject_null(cls, value: Any) -> Any:
        # Only runs for fields actually sent, so omitting is fine but an explicit null is not
        if value is None:
            raise ValueError("cannot be null; omit the field to leave it unchanged")
        return value


class TaskRead(BaseModel):
    """A task as returned by the API."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    description: str | None
    status: TaskStatus
    created_at: datetime
    updated_at: datetime

    @field_validator("created_at", "updated_at")
    @classmethod
    def _as_utc(cls, value: datetime) -> datetime:
        # SQLite drops the offset on storage; every stored time is UTC, so say so
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
