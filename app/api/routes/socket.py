"""WebSocket /ws/trace: the socket's handshake checks (origin, sockets per address) and its close codes;
the session that streams traces over it is app/api/streaming.py, the protocol docs/protocol.md."""

from __future__ import annotations

import anyio
from fastapi import APIRouter, WebSocket
from starlette import status
from starlette.websockets import WebSocketDisconnect

from app.api.deps import SettingsDep, SocketLimitDep, TraceCacheDep, ZooDep
from app.api.security import origin_allowed
from app.api.streaming import Stalled, TraceSession

router = APIRouter(tags=["trace"])


@router.websocket("/ws/trace")
async def trace_socket(
    websocket: WebSocket, zoo: ZooDep, settings: SettingsDep, cache: TraceCacheDep, limit: SocketLimitDep
) -> None:
    # Accept before refusing: a browser reports a close code (1008) but hides why a handshake failed.
    await websocket.accept()
    if not origin_allowed(websocket.headers, settings.allowed_origins):
        await websocket.close(status.WS_1008_POLICY_VIOLATION, "this page's origin may not open the socket")
        return
    address = websocket.client.host if websocket.client else ""
    if not limit.acquire(address):
        reason = f"this address already has {limit.per_client} sockets open (LSTM_EXPLAINER_WS_MAX_PER_CLIENT)"
        await websocket.close(status.WS_1008_POLICY_VIOLATION, reason)
        return
    try:
        await TraceSession(websocket, zoo, settings, cache).run()
    except* WebSocketDisconnect:
        pass  # the client left mid-send; nothing to clean up
    except* Stalled:
        # It is not reading, so the close frame may never reach it: try briefly, then let go of the socket.
        with anyio.move_on_after(1):
            reason = f"the client took no frame for {settings.ws_send_timeout:g} s; closed to free the server"
            await websocket.close(status.WS_1013_TRY_AGAIN_LATER, reason)
    finally:
        limit.release(address)
