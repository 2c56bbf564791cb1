# The CRM's image: gunicorn serves the site (whitenoise serves the static files);
# the same image runs the Celery worker and beat with another command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CRM_VAR_DIR=/app/var \
    STATIC_ROOT=/app/staticfiles \
    MEDIA_ROOT=/app/var/media

RUN apt-get update \
    && apt-get install -y --no-install-recommends gettext \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 1000 crm \
    && useradd --system --uid 1000 --gid crm --home-dir /app --shell /usr/sbin/nologin crm

WORKDIR /app

COPY requirements.txt .
RUN pip install -r requirements.txt

# The code stays owned by root: the app user can read it, not change it.
COPY . .

# compile_translations runs Django's compilemessages (msgfmt, from gettext above) on the
# project's catalogues, so the image needs nothing from requirements-build.txt.
# Build-time only: settings need a SECRET_KEY when DEBUG is off; the real one
# comes from the environment at run time.
RUN python manage.py compile_translations \
    && DEBUG=0 SECRET_KEY=build-only-not-secret python manage.py collectstatic --noinput \
    && mkdir -p /app/var/media \
    && chown -R crm:crm /app/var

USER crm

EXPOSE 8000

# Workers, threads, bind address and timeout: gunicorn.conf.py.
CMD ["gunicorn", "crm.wsgi:application"]
