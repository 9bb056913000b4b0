"""The tables of the seeded company's service databases, one dataset (one database) per service.

These are the *company's* systems, not pledge's: pledge only knows them through the annotations in
``datasets/panasonic/``, and a test proves the two agree table for table and field for field.
Indexes are listed apart from the tables: the demo build creates them after loading the rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
)


@dataclass(frozen=True)
class DemoDataset:
    id: str
    name: str
    tables: tuple[Table, ...]
    indexes: tuple[tuple[str, str], ...]  # (table, column) indexed after loading
    unique: tuple[tuple[str, str], ...] = ()  # (table, column) with a unique index, made after loading

    @property
    def metadata(self) -> MetaData:
        metadata = self.tables[0].metadata
        assert metadata is not None
        return metadata


def _pk() -> Column[int]:
    return Column("id", Integer, primary_key=True, autoincrement=False)


def _fk(name: str, target: str, schema: str | None, nullable: bool = False) -> Column[int]:
    qualified = f"{schema}.{target}" if schema else target
    return Column(name, Integer, ForeignKey(qualified), nullable=nullable)


def build_datasets(schemas: bool = False) -> dict[str, DemoDataset]:
    """The demo datasets; with ``schemas`` each dataset's tables live in a schema named after it."""
    result: dict[str, DemoDataset] = {}

    def dataset(ident: str, name: str, make: object, indexes: tuple[tuple[str, str], ...],
                unique: tuple[tuple[str, str], ...] = ()) -> None:
        schema = ident if schemas else None
        metadata = MetaData(schema=schema)
        assert callable(make)
        tables = tuple(make(metadata, schema))
        result[ident] = DemoDataset(ident, name, tables, indexes, unique)

    def accounts(m: MetaData, s: str | None) -> list[Table]:
        return [
            Table("customers", m, _pk(),
                  Column("customer_number", String(80), nullable=False),
                  Column("email", String(254), nullable=False),
                  Column("phone", String(20)),
                  Column("first_name", String(80), nullable=False),
                  Column("last_name", String(80), nullable=False),
                  Column("birth_date", Date),
                  Column("street", String(120)),
                  Column("city", String(80)),
                  Column("postcode", String(12)),
                  Column("country", String(2), nullable=False),
                  Column("password_hash", String(100)),
                  Column("created_at", DateTime, nullable=False)),
            Table("customer_browsers", m, _pk(),
                  _fk("customer_id", "customers.id", s),
                  Column("browser_id", String(36), nullable=False),
                  Column("first_seen", DateTime, nullable=False)),
        ]

    def products(m: MetaData, s: str | None) -> list[Table]:
        return [
            Table("registrations", m, _pk(),
                  Column("customer_number", String(80), nullable=False),
                  Column("product_model", String(40), nullable=False),
                  Column("serial_number", String(24), nullable=False),
                  Column("purchase_date", Date),
                  Column("retailer", String(120)),
                  Column("registered_at", DateTime, nullable=False)),
        ]

    def shop(m: MetaData, s: str | None) -> list[Table]:
        return [
            Table("orders", m, _pk(),
                  Column("customer_number", String(80)),
                  Column("email", String(254)),
                  Column("ordered_at", DateTime, nullable=False),
                  Column("status", String(16), nullable=False),
                  Column("shipping_name", String(160)),
                  Column("shipping_street", String(120)),
                  Column("shipping_city", String(80)),
                  Column("shipping_postcode", String(12)),
                  Column("shipping_country", String(2)),
                  Column("total", Numeric(10, 2), nullable=False)),
            Table("order_lines", m, _pk(),
                  _fk("order_id", "orders.id", s),
                  Column("product_model", String(40), nullable=False),
                  Column("quantity", Integer, nullable=False),
                  Column("unit_price", Numeric(10, 2), nullable=False)),
            Table("invoices", m, _pk(),
                  _fk("order_id", "orders.id", s),
                  Column("invoice_number", String(20), nullable=False),
                  Column("issued_on", Date, nullable=False),
                  Column("billing_name", String(160)),
                  Column("billing_address", String(300)),
                  Column("email", String(254)),
                  Column("total", Numeric(10, 2), nullable=False)),
        ]

    def support(m: MetaData, s: str | None) -> list[Table]:
        return [
            Table("tickets", m, _pk(),
                  Column("customer_number", String(80)),
                  Column("email", String(254)),
                  Column("phone", String(20)),
                  Column("channel", String(8), nullable=False),
                  Column("subject", String(200), nullable=False),
                  Column("body", Text, nullable=False),
                  Column("status", String(12), nullable=False),
                  Column("created_at", DateTime, nullable=False)),
            Table("call_recordings", m, _pk(),
                  _fk("ticket_id", "tickets.id", s),
                  Column("phone", String(20)),
                  Column("recorded_at", DateTime, nullable=False),
                  Column("duration_s", Integer, nullable=False),
                  Column("audio_uri", String(200), nullable=False),
                  Column("announced", Boolean, nullable=False)),
        ]

    def community(m: MetaData, s: str | None) -> list[Table]:
        return [
            Table("members", m, _pk(),
                  Column("customer_number", String(80), nullable=False),
                  Column("nickname", String(60), nullable=False),
                  Column("joined_at", DateTime, nullable=False)),
            Table("posts", m, _pk(),
                  _fk("member_id", "members.id", s),
                  _fk("reply_to", "posts.id", s, nullable=True),
                  Column("title", String(200)),
                  Column("body", Text, nullable=False),
                  Column("posted_at", DateTime, nullable=False)),
        ]

    def marketing(m: MetaData, s: str | None) -> list[Table]:
        return [
            Table("newsletter_subscriptions", m, _pk(),
                  Column("email", String(254), nullable=False),
                  Column("topic", String(40), nullable=False),
                  Column("source", String(40), nullable=False),
                  Column("subscribed_at", DateTime, nullable=False),
                  Column("confirmed_at", DateTime)),
            Table("promotion_entries", m, _pk(),
                  Column("email", String(254)),
                  Column("phone", String(20)),
                  Column("full_name", String(160), nullable=False),
                  Column("postcode", String(12)),
                  Column("promotion_code", String(20), nullable=False),
                  Column("entered_at", DateTime, nullable=False),
                  Column("prize_won", Boolean, nullable=False)),
        ]

    def lumix_pro(m: MetaData, s: str | None) -> list[Table]:
        return [
            Table("members", m, _pk(),
                  Column("membership_number", String(80), nullable=False),
                  Column("internal_number", String(80), nullable=False),
                  Column("customer_number", String(80), nullable=False),
                  Column("first_name", String(80)),
                  Column("surname", String(80)),
                  Column("birth_date", Date),
                  Column("tier", String(8), nullable=False),
                  Column("registered_products", Integer, nullable=False),
                  _fk("invited_by", "members.id", s, nullable=True),
                  Column("starts_on", Date, nullable=False),
                  Column("expires_on", Date, nullable=False)),
            Table("member_products", m, _pk(),
                  _fk("member_id", "members.id", s),
                  Column("product_model", String(40), nullable=False),
                  Column("serial_number", String(24), nullable=False),
                  Column("invoice_copy_uri", String(200)),
                  Column("registered_on", Date, nullable=False)),
        ]

    def smartapp(m: MetaData, s: str | None) -> list[Table]:
        return [
            Table("devices", m, _pk(),
                  Column("device_id", String(36), nullable=False),
                  Column("customer_number", String(80), nullable=False),
                  Column("model", String(40), nullable=False),
                  Column("firmware_version", String(16), nullable=False),
                  Column("paired_at", DateTime, nullable=False)),
            Table("device_logs", m, _pk(),
                  Column("device_id", String(36), nullable=False),
                  Column("logged_at", DateTime, nullable=False),
                  Column("event", String(40), nullable=False),
                  Column("detail", String(200))),
            Table("location_logs", m, _pk(),
                  Column("device_id", String(36), nullable=False),
                  Column("recorded_at", DateTime, nullable=False),
                  Column("latitude", Numeric(9, 6), nullable=False),
                  Column("longitude", Numeric(9, 6), nullable=False),
                  Column("accuracy_m", Integer, nullable=False)),
        ]

    def smart_home(m: MetaData, s: str | None) -> list[Table]:
        return [
            Table("connections", m, _pk(),
                  Column("device_id", String(36), nullable=False),
                  Column("ip_address", String(45)),
                  Column("mac_address", String(17)),
                  Column("software_version", String(16), nullable=False),
                  Column("connected_at", DateTime, nullable=False)),
        ]

    def analytics(m: MetaData, s: str | None) -> list[Table]:
        return [
            Table("page_views", m, _pk(),
                  Column("browser_id", String(36), nullable=False),
                  Column("viewed_at", DateTime, nullable=False),
                  Column("path", String(200), nullable=False),
                  Column("referrer", String(200)),
                  Column("user_agent", String(200)),
                  Column("ip_address", String(45))),
        ]

    dataset("accounts", "My Panasonic accounts", accounts,
            (("customers", "phone"), ("customer_browsers", "customer_id"), ("customer_browsers", "browser_id")),
            (("customers", "customer_number"), ("customers", "email")))
    dataset("products", "Product registrations", products, (("registrations", "customer_number"),))
    dataset("shop", "Online shop: orders and invoices", shop,
            (("orders", "customer_number"), ("orders", "email"), ("order_lines", "order_id"),
             ("invoices", "order_id"), ("invoices", "email")), (("invoices", "invoice_number"),))
    dataset("support", "Customer support: tickets and call recordings", support,
            (("tickets", "customer_number"), ("tickets", "email"), ("tickets", "phone"),
             ("call_recordings", "ticket_id")))
    dataset("community", "Community forum", community,
            (("members", "customer_number"), ("posts", "member_id"), ("posts", "reply_to")))
    dataset("marketing", "Newsletters and promotions", marketing,
            (("newsletter_subscriptions", "email"), ("promotion_entries", "email"), ("promotion_entries", "phone")))
    dataset("lumix_pro", "LUMIX PRO membership", lumix_pro,
            (("members", "customer_number"), ("members", "invited_by"), ("member_products", "member_id")),
            (("members", "membership_number"),))
    dataset("smartapp", "SmartApp+ devices and logs", smartapp,
            (("devices", "customer_number"), ("device_logs", "device_id"), ("location_logs", "device_id")),
            (("devices", "device_id"),))
    dataset("smart_home", "Smart-home connectivity", smart_home, (("connections", "device_id"),))
    dataset("analytics", "Website analytics", analytics, (("page_views", "browser_id"),))
    return result


#: Dataset ids in build order.
DATASET_IDS = ("accounts", "products", "shop", "support", "community", "marketing", "lumix_pro", "smartapp",
               "smart_home", "analytics")
