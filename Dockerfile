# One image for every Involvement Impact service; docker-compose.yml picks the command.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# An unprivileged user; its home /app is the working directory, so the default data dir (./var) is writable.
RUN useradd --system --uid 10001 --user-group --home-dir /app --create-home --shell /usr/sbin/nologin impact

# Install from a throwaway directory, so the services import the installed package, never a source tree.
# The locked versions first, each file checked against its hash (a layer that changes only with the lock),
# then the project itself without resolving anything again.
WORKDIR /build
COPY requirements/runtime.txt requirements/runtime.txt
RUN pip install --no-cache-dir --require-hashes -r requirements/runtime.txt
COPY pyproject.toml README.md ./
COPY schemas/ schemas/
COPY impact/ impact/
COPY ingest/ ingest/
COPY processors/ processors/
COPY dashboard/ dashboard/
RUN pip install --no-cache-dir --no-deps --no-build-isolation . \
    && rm -rf /build

WORKDIR /app
USER impact

# ingest API, processor health, dashboard
EXPOSE 8001 8002 8050

CMD ["impact", "ingest"]
