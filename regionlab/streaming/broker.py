"""The RabbitMQ broker the feed publishes to and the consumer reads from.

Queues are durable and messages persistent, so a broker restart keeps what was
not yet acknowledged; the consumer acknowledges only after the lake committed.
"""

from __future__ import annotations

import os

import pika
import pika.exceptions

from regionlab.errors import UserError

DEFAULT_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"


def broker_url() -> str:
    """``REGIONLAB_AMQP_URL``, or the local broker every machine of the project runs."""
    return os.environ.get("REGIONLAB_AMQP_URL", DEFAULT_URL)


def topic_queue(topic: str) -> str:
    """The broker queue of a spec's topic: ``REGIONLAB_STREAM_QUEUE_PREFIX`` + the topic.

    Why: several installations (or test runs) may share one broker; a prefix keeps
    their streams apart, so one's consumer or erasure never takes another's messages.
    """
    return os.environ.get("REGIONLAB_STREAM_QUEUE_PREFIX", "") + topic


def connect(url: str | None = None) -> pika.BlockingConnection:
    params = pika.URLParameters(url or broker_url())
    params.heartbeat = 60
    params.blocked_connection_timeout = 30
    try:
        return pika.BlockingConnection(params)
    except pika.exceptions.AMQPConnectionError:
        host = params.host
        raise UserError(
            f"cannot reach the message broker at {host}:{params.port}; start RabbitMQ or set "
            "REGIONLAB_AMQP_URL (amqp://user:password@host:port/vhost)"
        ) from None


def declare(channel: pika.adapters.blocking_connection.BlockingChannel, queue: str) -> int:
    """Declare the durable queue; return how many messages wait in it."""
    frame = channel.queue_declare(queue=queue, durable=True)
    return int(frame.method.message_count)


def queue_depth(queue: str, url: str | None = None) -> int | None:
    """Messages waiting in ``queue`` (None when it does not exist)."""
    con = connect(url)
    try:
        channel = con.channel()
        try:
            frame = channel.queue_declare(queue=queue, passive=True)
        except pika.exceptions.ChannelClosedByBroker:
            return None
        return int(frame.method.message_count)
    finally:
        if con.is_open:
            con.close()


def delete_queue(queue: str, url: str | None = None) -> None:
    con = connect(url)
    try:
        con.channel().queue_delete(queue=queue)
    finally:
        con.close()
