#!/usr/bin/env python3
"""Prints the chat text of each siaprapat webhook message it receives.

    python3 docs/examples/print-webhook.py 9799
    siaprapat-controller serve --webhook http://127.0.0.1:9799/ ...

A stand-in for a WhatsApp or Telegram relay: it answers 204, so the
controller's outbox lets the message go.
"""
import http.server
import json
import sys


class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        print(f"--- {body['event']} {body['site']}/{body['room']}\n{body['text']}\n", flush=True)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Hook).serve_forever()
