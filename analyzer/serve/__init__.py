"""``blastwall serve``: the library over HTTP for remediation pipelines (submit a proposal or a Security
Hub event, read its score, ask the gate, report an execution). ``create_api`` builds the ASGI app;
``blastwall serve`` runs it under uvicorn. See docs/serve.md."""
