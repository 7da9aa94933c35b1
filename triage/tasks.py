"""Thin Celery tasks for triage."""

from celery import shared_task

from . import selectors, services


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def sla_check() -> int:
    return len(services.sla_check())


@shared_task(ignore_result=True, expires=55)
def kpis_refresh() -> None:
    """The KPI figures, computed once a minute for every lead who opens the page."""
    selectors.kpi_snapshot(refresh=True)
