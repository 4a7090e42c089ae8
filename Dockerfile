# Builds the single rapr executable, then ships it alone on a slim Debian base.
FROM node:22-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-fund --no-audit
COPY . .
RUN npx bun run build

FROM debian:bookworm-slim
RUN useradd --system --home /var/lib/rapr --create-home rapr
COPY --from=build /src/dist/rapr /usr/local/bin/rapr
USER rapr
EXPOSE 3500 50001 9090
ENTRYPOINT ["rapr", "run", "--dapr-listen-addresses", "0.0.0.0", "--data-dir", "/var/lib/rapr"]
