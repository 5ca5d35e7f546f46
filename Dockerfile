# One image for every role: web, worker, dispatcher. The role is the first argument.
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends prusa-slicer fonts-dejavu-core fonts-noto-core libgl1 libxrender1 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md constraints.txt ./
COPY configurator configurator
COPY cad cad
COPY scheduler scheduler
COPY mes_bridge mes_bridge
COPY orders orders
COPY web web
# As `make install` does: the Urdu catalogue compiled, the Urdu pages' font served locally.
RUN pip install --no-cache-dir -c constraints.txt babel \
 && pybabel --quiet compile -d web/translations \
 && mkdir -p web/static/vendor/fonts \
 && cp /usr/share/fonts/truetype/noto/NotoNaskhArabic-Regular.ttf \
       /usr/share/fonts/truetype/noto/NotoNaskhArabic-Bold.ttf web/static/vendor/fonts/
RUN pip install --no-cache-dir -c constraints.txt . && useradd --create-home hunar && mkdir -p /data && chown hunar /data
COPY deploy/entrypoint.sh /entrypoint.sh
USER hunar
EXPOSE 5000
ENTRYPOINT ["/entrypoint.sh"]
CMD ["web"]
