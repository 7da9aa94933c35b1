# Warroom image: web (daphne), Celery worker and Celery beat all run from it; see
# docker-compose.yml for the commands and the environment.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system --gid 10001 warroom \
    && useradd --system --uid 10001 --gid warroom --home-dir /app --no-create-home --shell /usr/sbin/nologin warroom

WORKDIR /app

# DejaVu Sans lets the crisis and results PDFs print any script (room/report_pdf.py falls back
# to a Latin-1 core font, which turns the rest into "?").
RUN apt-get update && apt-get install -y --no-install-recommends fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

# Dependencies first, from pyproject.toml alone, so code changes reuse this layer.
# The project declares no packages (`packages = []`): `pip install .` installs the pinned
# dependencies, and the code runs from /app, as it does from the checkout under `make run`.
COPY pyproject.toml ./
RUN pip install .

COPY . .

# Static files are collected at build time into STATIC_ROOT (.run/staticfiles) and served
# by WhiteNoise. collectstatic needs neither the database nor Redis, and runs with the
# production settings: DEBUG is off by default, so it gets a throwaway key that lives only
# in this one step (the running container must be given its own SECRET_KEY).
RUN SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(64))')" python manage.py collectstatic --noinput
# The app user owns only .run (beat's schedule file goes there); the code and static files
# stay read-only to it.
# .run/media is where compose mounts the media volume: a new volume takes this owner.
RUN mkdir -p /app/.run/media && chown warroom:warroom /app/.run /app/.run/media

ENV DEBUG=0
USER warroom
EXPOSE 8000

CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "warroom.asgi:application"]
