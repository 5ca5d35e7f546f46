"""Typed SQLAlchemy 2.0 models, one module per aggregate; import them all from here."""

from orders.models.artifacts import Artifact
from orders.models.catalog import ProductConfiguration, Quote
from orders.models.events import Event, FloorEventKey
from orders.models.fleet import PrinterConnection, PrinterJobState, PrinterStatusRow
from orders.models.jobs import JobRecord, JobState
from orders.models.machines import Calendar, CalendarWindow, Machine, MachineState, WindowKind
from orders.models.operations import Operation, OperationStatus
from orders.models.orders import Order, OrderLine
from orders.models.outbox import OutboxMessage, OutboxStatus
from orders.models.password_resets import PasswordReset
from orders.models.payments import Invoice, Payment, PaymentMethod, PaymentState
from orders.models.power import OutageSource, PowerOutage
from orders.models.schedules import Assignment, Schedule, ScheduleState
from orders.models.stock import MoveKind, StockItem, StockKind, StockMove
from orders.models.users import STAFF, ApiToken, LoginThrottle, Role, User

__all__ = [
    "ApiToken",
    "Artifact",
    "Assignment",
    "Calendar",
    "CalendarWindow",
    "Event",
    "FloorEventKey",
    "Invoice",
    "JobRecord",
    "JobState",
    "LoginThrottle",
    "Machine",
    "MachineState",
    "MoveKind",
    "Operation",
    "OperationStatus",
    "Order",
    "OrderLine",
    "OutageSource",
    "OutboxMessage",
    "OutboxStatus",
    "PasswordReset",
    "Payment",
    "PaymentMethod",
    "PaymentState",
    "PowerOutage",
    "PrinterConnection",
    "PrinterJobState",
    "PrinterStatusRow",
    "ProductConfiguration",
    "Quote",
    "Role",
    "STAFF",
    "Schedule",
    "ScheduleState",
    "StockItem",
    "StockKind",
    "StockMove",
    "User",
    "WindowKind",
]
