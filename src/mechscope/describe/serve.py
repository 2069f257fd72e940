"""A minimal OpenAI-compatible chat server over a loaded model, for local llm: interpreters.

Only ``POST /v1/chat/completions`` (greedy decoding, non-streaming) and
``GET /v1/models``. It listens on 127.0.0.1 only.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import torch


def _reply(model, messages: list[dict], max_tokens: int, max_context: int = 1800) -> tuple[str, int, int]:
    tok = model.tokenizer
    if getattr(tok, "chat_template", None):
        ids = tok.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt")
        ids = ids["input_ids"] if hasattr(ids, "keys") else ids
    else:
        text = "".join(f"{m['role']}: {m['content']}\n" for m in messages) + "assistant:"
        ids = tok(text, return_tensors="pt")["input_ids"]
    ids = ids[:, -max_context:].to(model.device)
    with torch.no_grad():
        out = model.hf.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=max_tokens,
            do_sample=False,
            pad_token_id=tok.pad_token_id,
            use_cache=True,
        )
    new = out[0, ids.shape[1] :]
    return tok.decode(new, skip_special_tokens=True), int(ids.shape[1]), int(new.shape[0])


def make_server(model, port: int = 0, max_tokens: int = 256) -> HTTPServer:
    """An HTTP server (not yet serving) on 127.0.0.1:`port` answering chat completions with `model`."""
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def _send(self, code: int, doc: dict) -> None:
            body = json.dumps(doc).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path.rstrip("/").endswith("/models"):
                self._send(200, {"object": "list", "data": [{"id": model.spec, "object": "model"}]})
            else:
                self._send(404, {"error": {"message": "not found"}})

        def do_POST(self):
            if not self.path.rstrip("/").endswith("/chat/completions"):
                self._send(404, {"error": {"message": "only /v1/chat/completions"}})
                return
            req = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            n = min(int(req.get("max_tokens") or max_tokens), max_tokens)
            with lock:
                text, n_in, n_out = _reply(model, req.get("messages", []), n)
            self._send(
                200,
                {
                    "object": "chat.completion",
                    "model": req.get("model", model.spec),
                    "choices": [
                        {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                    ],
                    "usage": {"prompt_tokens": n_in, "completion_tokens": n_out},
                },
            )

    return HTTPServer(("127.0.0.1", port), Handler)


def serve(model, port: int = 8080, max_tokens: int = 256) -> None:
    """Serve until interrupted."""
    server = make_server(model, port, max_tokens)
    try:
        server.serve_forever()
    finally:
        server.server_close()
