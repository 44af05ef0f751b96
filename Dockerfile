# The image every task of `sluiceway export kubeflow` runs (its --image): Sluiceway, `sluiceway` on PATH, and the
# project's pipelines under /app, the folder the tasks start in (so a relative pipeline path resolves there).
#
#   docker build -t sluiceway:latest .
#
# For your own pipelines, build FROM this image and COPY them into /app (or use --workdir at export time).
# The tasks read the stores from their environment (SLUICEWAY_STORE, SLUICEWAY_ARTIFACT_ROOT): every task must
# reach the same metadata store (PostgreSQL) and the same artifact folder (a shared volume mounted at the same path).
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first, in their own layer: editing a pipeline does not reinstall them.
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install '.[examples,postgres]'

COPY examples ./examples

# Nothing runs by default: each KFP task gives its `sluiceway exec ...` command.
CMD ["sluiceway", "--help"]
