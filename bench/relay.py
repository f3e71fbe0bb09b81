#!/usr/bin/env python3
"""A TCP relay that counts the bytes it carries each way (TLS passes through untouched).

Usage: relay.py UPSTREAM_HOST:PORT
  -> prints "LISTEN_PORT CONTROL_PORT" on stdout, then relays until killed.
Every connection to LISTEN_PORT is joined to a new connection to UPSTREAM; the bytes are
counted as they are forwarded (client->server "up", server->client "down"), so a client
pointed at the relay (its kubeconfig's server with the relay's port: the API server's
certificate is for 127.0.0.1 whatever the port) is measured on the wire: headers, bodies,
TLS handshakes and records. A connection to CONTROL_PORT reads "UP DOWN CONNECTIONS\\n",
the totals since the start (take differences around a command).
Used by bench/read-less.sh.
"""
import asyncio
import sys

TOTALS = {"up": 0, "down": 0, "connections": 0}


async def pipe(reader, writer, key):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            TOTALS[key] += len(data)
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        try:
            writer.close()
        except OSError:
            pass


async def main():
    host, port = sys.argv[1].rsplit(":", 1)

    async def relay(creader, cwriter):
        TOTALS["connections"] += 1
        try:
            sreader, swriter = await asyncio.open_connection(host, int(port))
        except OSError:
            cwriter.close()
            return
        await asyncio.gather(
            pipe(creader, swriter, "up"), pipe(sreader, cwriter, "down")
        )

    async def control(_reader, writer):
        writer.write(f"{TOTALS['up']} {TOTALS['down']} {TOTALS['connections']}\n".encode())
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(relay, "127.0.0.1", 0)
    ctl = await asyncio.start_server(control, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], ctl.sockets[0].getsockname()[1], flush=True)
    await asyncio.gather(server.serve_forever(), ctl.serve_forever())


if __name__ == "__main__":
    asyncio.run(main())
