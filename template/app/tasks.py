"""CRUD endpoints for tasks."""

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response, status
from sqlmodel import Session, select

from app.database import get_session
from app.models import Task, TaskCreate, TaskRead, TaskStatus, TaskUpdate, utcnow
from app.readiness import require_schema

# Ids are 32-bit in PostgreSQL; larger values can never exist, so reject them up front
MAX_ID = 2_147_483_647

router = APIRouter(prefix="/tasks", tags=["tasks"], dependencies=[Depends(require_schema)])

SessionDep = Annotated[Session, Depends(get_session)]
TaskId = Annotated[int, Path(gt=0, le=MAX_ID, description="Task id")]


def _get_or_404(session: Session, task_id: int) -> Task:
    task = session.get(Task, task_id)
    if task is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"Task {task_id} not found")
    return task


@router.post("", status_code=status.HTTP_201_CREATED, response_model=TaskRead)
def create_task(body: TaskCreate, session: SessionDep) -> Task:
    now = utcnow()
    task = Task(**body.model_dump(), created_at=now, updated_at=now)
    session.add(task)
    session.commit()
    session.refresh(task)
    return task


@router.get("", response_model=list[TaskRead])
def list_tasks(
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    status_filter: Annotated[TaskStatus | None, Query(alias="status")] = None,
) -> list[Task]:
    query = select(Task)
    if status_filter is not None:
        query = query.where(Task.status == status_filter)
    # A stable order makes limit/offset pages consistent
    query = query.order_by(Task.id).offset(offset).limit(limit)  # type: ignore[arg-type]
    return list(session.exec(query).all())


@router.get("/{task_id}", response_model=TaskRead)
def get_task(task_id: TaskId, session: SessionDep) -> Task:
    return _get_or_404(session, task_id)


@router.patch("/{task_id}", response_model=TaskRead)
def update_task(task_id: TaskId, body: TaskUpdate, session: SessionDep) -> Task:
    task = _get_or_404(session, task_id)
    for field, value in body.model_dump(exclude_unset=True).items():
        setattr(task, field, value)
    task.updated_at = utcnow()
    session.add(task)
    session.commit()
    session.refresh(task)
    return task


@router.delete("/{task_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_task(task_id: TaskId, session: SessionDep) -> Response:
    session.delete(_get_or_404(session, task_id))
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
