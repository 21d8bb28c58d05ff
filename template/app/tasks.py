"""CRUD endpoints for tasks."""

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import WithJsonSchema
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session, col, delete, select

from app.database import session_scope
from app.migrate import require_schema
from app.models import Task, TaskCreate, TaskRead, TaskStatus, TaskUpdate, utcnow
from app.responses import BODY_ERRORS, NOT_FOUND, UNAVAILABLE

# Ids are 32-bit in PostgreSQL; larger values can never exist, so reject them up front
MAX_ID = 2_147_483_647
# Far above the largest valid task body, small enough that nobody can make us buffer megabytes
MAX_BODY_BYTES = 64 * 1024


async def reject_repeated_query(request: Request) -> None:
    """?limit=5&limit=50 is ambiguous (FastAPI would keep the last): a 422 as usual instead."""
    params = request.query_params
    errors = [
        {"type": "repeated", "loc": ("query", name), "msg": "given more than once", "input": values}
        for name in dict.fromkeys(params.keys())
        if len(values := params.getlist(name)) > 1
    ]
    if errors:
        raise RequestValidationError(errors)


router = APIRouter(
    prefix="/tasks",
    tags=["tasks"],
    dependencies=[Depends(reject_repeated_query), Depends(require_schema)],
    responses=UNAVAILABLE,
    max_body_size=MAX_BODY_BYTES,
)

TaskId = Annotated[int, Path(gt=0, le=MAX_ID, description="Task id")]
# Published as the enum alone: a query string cannot carry a null
StatusFilter = Annotated[
    TaskStatus | None,
    Query(alias="status"),
    WithJsonSchema({"type": "string", "enum": [member.value for member in TaskStatus]}),
]


async def require_json(request: Request) -> None:
    """Refuse non-JSON bodies with 415 instead of a confusing 'valid dictionary' 422."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    json_like = media_type.startswith("application/") and media_type.endswith("+json")
    # Nothing sent at all is left to validation, which reports the missing body
    if media_type == "application/json" or json_like or not (media_type or await request.body()):
        return
    raise HTTPException(
        status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
        detail=f"Content-Type must be application/json, got {media_type[:100] or 'none'!r}",
    )


def _not_found(task_id: int) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, detail=f"Task {task_id} not found")


def _get_or_404(session: Session, task_id: int) -> Task:
    if (task := session.get(Task, task_id)) is None:
        raise _not_found(task_id)
    return task


# OpenAPI links let stateful testers (and readers) follow a created task to its other routes
_NEW_ID = {"task_id": "$response.body#/id"}
_TASK_LINKS = {
    f"{verb.title()}Task": {"operationId": f"{verb}_task", "parameters": _NEW_ID}
    for verb in ("get", "update", "delete")
}


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=TaskRead,
    operation_id="create_task",
    dependencies=[Depends(require_json)],
    responses={201: {"links": _TASK_LINKS}, **BODY_ERRORS},
)
def create_task(body: TaskCreate) -> Task:
    now = utcnow()
    task = Task(**body.model_dump(), created_at=now, updated_at=now)
    with session_scope() as session:
        session.add(task)
        # The session keeps attributes after commit, so no re-read is needed for the response
        session.commit()
    return task


@router.get("", response_model=list[TaskRead], operation_id="list_tasks")
def list_tasks(
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    status_filter: StatusFilter = None,
) -> list[Task]:
    query = select(Task)
    if status_filter is not None:
        query = query.where(Task.status == status_filter)
    # A stable order makes limit/offset pages consistent
    query = query.order_by(col(Task.id)).offset(offset).limit(limit)
    with session_scope() as session:
        return list(session.exec(query).all())


@router.get("/{task_id}", response_model=TaskRead, operation_id="get_task", responses=NOT_FOUND)
def get_task(task_id: TaskId) -> Task:
    with session_scope() as session:
        return _get_or_404(session, task_id)


@router.patch(
    "/{task_id}",
    response_model=TaskRead,
    operation_id="update_task",
    dependencies=[Depends(require_json)],
    responses={**NOT_FOUND, **BODY_ERRORS},
)
def update_task(task_id: TaskId, body: TaskUpdate) -> Task:
    with session_scope() as session:
        task = _get_or_404(session, task_id)
        task.sqlmodel_update(body.model_dump(exclude_unset=True))
        task.updated_at = utcnow()
        session.add(task)
        try:
            session.commit()
        except StaleDataError:
            # Deleted by a concurrent request between our read and our write
            session.rollback()
            raise _not_found(task_id) from None
    return task


@router.delete("/{task_id}", status_code=204, operation_id="delete_task", responses=NOT_FOUND)
def delete_task(task_id: TaskId) -> Response:
    with session_scope() as session:
        # One statement, so two concurrent deletes cannot both report success
        result = session.exec(delete(Task).where(col(Task.id) == task_id))
        if result.rowcount == 0:
            raise _not_found(task_id)
        session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
