from ninja import Schema


class Error(Schema):
    detail: str


class ContactOut(Schema):
    target: int
    phone: str  # masked: +86 138****5678
    country: str
    province: str
    city: str
    timezone: str
    status: str
    attempts: int


class ContactPage(Schema):
    count: int
    limit: int
    offset: int
    contacts: list[ContactOut]
