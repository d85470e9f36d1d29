"""A WebSocket echo upstream for the browser test (stdlib only): it answers each
text message with "<X-Durin-User>: <message>", so a test sees both that the socket
works and whom nginx said it belongs to.

    socket_echo.py SOCKET_PATH
"""
import asyncio
import base64
import hashlib
import os
import struct
import sys

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


async def frame(reader):
    head = await reader.readexactly(2)
    opcode, length = head[0] & 0x0F, head[1] & 0x7F
    if length == 126:
        length = struct.unpack(">H", await reader.readexactly(2))[0]
    elif length == 127:
        length = struct.unpack(">Q", await reader.readexactly(8))[0]
    mask = await reader.readexactly(4) if head[1] & 0x80 else b"\0\0\0\0"
    data = await reader.readexactly(length)
    return opcode, bytes(b ^ mask[i % 4] for i, b in enumerate(data))


async def handle(reader, writer):
    try:
        request = await reader.readuntil(b"\r\n\r\n")
        headers = {}
        for line in request.decode("latin-1").split("\r\n")[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        key = headers.get("sec-websocket-key")
        if not key:
            writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            await writer.drain()
            return
        accept = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
        writer.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      f"Sec-WebSocket-Accept: {accept}\r\n\r\n").encode())
        user = headers.get("x-durin-user", "")
        while True:
            opcode, data = await frame(reader)
            if opcode == 8:
                writer.write(b"\x88\x00")
                await writer.drain()
                return
            if opcode == 1:
                reply = f"{user}: {data.decode()}".encode()[:125]
                writer.write(bytes([0x81, len(reply)]) + reply)
                await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main(path):
    if os.path.exists(path):
        os.unlink(path)
    server = await asyncio.start_unix_server(handle, path)
    os.chmod(path, 0o666)
    async with server:
        await server.serve_forever()


asyncio.run(main(sys.argv[1]))
