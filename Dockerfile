# One image for every role: web, worker, dispatcher. The role is the first argument.
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends prusa-slicer fonts-dejavu-core libgl1 libxrender1 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md constraints.txt ./
COPY configurator configurator
COPY cad cad
COPY scheduler scheduler
COPY mes_bridge mes_bridge
COPY orders orders
COPY web web
RUN pip install --no-cache-dir -c constraints.txt . && useradd --create-home hunar && mkdir -p /data && chown hunar /data
COPY deploy/entrypoint.sh /entrypoint.sh
USER hunar
EXPOSE 5000
ENTRYPOINT ["/entrypoint.sh"]
CMD ["web"]
