# The explorer in a container: `docker build -t lstm-explainer . && docker run -p 8000:8000 lstm-explainer`
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Install from a throwaway copy of the source; the package (with its models, static files, templates and
# the vendored plotly.js)
# lands in site-packages and the copy is removed.
COPY pyproject.toml README.md /tmp/src/
COPY app /tmp/src/app
COPY static /tmp/src/static
COPY templates /tmp/src/templates
COPY vendor /tmp/src/vendor
RUN pip install /tmp/src && rm -rf /tmp/src

RUN useradd --create-home --uid 10001 explainer
USER explainer
WORKDIR /home/explainer

EXPOSE 8000
# No curl in a slim image; Python is already there. /healthz answers 503 when no model loaded.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
CMD ["lstm-explainer", "serve", "--host", "0.0.0.0"]
