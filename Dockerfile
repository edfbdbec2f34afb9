# blastwall serve (the HTTP API) and blastwall app (the Dash app) in one image; deploy/compose.yaml runs
# them with a Neo4j server. Python 3.11: the version constraints.txt was resolved on.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY analyzer analyzer
COPY connectors connectors
RUN pip install --no-cache-dir --prefix /install -c constraints.txt ".[aws,neo4j,app,serve]"

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /var/lib/blastwall --create-home blastwall
COPY --from=build /install /usr/local
USER blastwall
WORKDIR /var/lib/blastwall
# the ledger, the recorder's key and the call log live on a volume, never in the image
ENV BLASTWALL_LEDGER=/var/lib/blastwall/ledger/ledger.jsonl \
    BLASTWALL_RECORDER_KEYS=/var/lib/blastwall/ledger/recorder
EXPOSE 8080 8050
ENTRYPOINT ["blastwall"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
