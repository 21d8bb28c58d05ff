"""The task table and the request/response shapes built around it."""

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, field_validator
from pydantic import Field as PydanticField
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


class Task(SQLModel, table=True):
    """A row in the `task` table; the schema itself is owned by the Alembic migrations."""

    __tablename__ = "task"

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(sa_column=Column(String(TITLE_MAX), nullable=False))
    description: str | None = Field(default=None, sa_column=Column(String(DESCRIPTION_MAX)))
    # Stored as VARCHAR + CHECK (not a native enum) so new states need no type migration
    status: TaskStatus = Field(
        default=TaskStatus.pending,
        sa_column=Column(
            Enum(
                TaskStatus,
                native_enum=False,
                length=20,
                values_callable=lambda enum: [member.value for member in enum],
            ),
            nullable=False,
            index=True,
        ),
    )
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )


def _strip(value: Any) -> Any:
    # Only strings are stripped; other types reach pydantic's own type check unchanged
    return value.strip() if isinstance(value, str) else value


def _storable_text(value: str | None) -> str | None:
    # PostgreSQL text cannot hold NUL, and lone surrogates cannot be encoded as UTF-8
    if value is None:
        return value
    if "\x00" in value:
        raise ValueError("must not contain NUL (\\u0000) characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text (no lone surrogates)") from None
    return value


def _not_blank(value: str) -> str:
    if not value:
        raise ValueError("must not be blank")
    return value


Title = Annotated[
    str,
    BeforeValidator(_strip),
    PydanticField(max_length=TITLE_MAX),
    AfterValidator(_not_blank),
    AfterValidator(_storable_text),
]
Description = Annotated[
    str | None, PydanticField(max_length=DESCRIPTION_MAX), AfterValidator(_storable_text)
]


class TaskCreate(BaseModel):
    """Body of POST /tasks."""

    model_config = ConfigDict(extra="forbid")

    title: Title
    description: Description = None
    status: TaskStatus = TaskStatus.pending


class TaskUpdate(BaseModel):
    """Body of PATCH /tasks/{id}: only the fields sent are changed."""

    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    description: Description = None
    status: TaskStatus | None = None

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
