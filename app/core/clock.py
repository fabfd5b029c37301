"""What time it is: every timestamp the service stores is taken from here, in UTC."""

import datetime as dt


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
