# syntax=docker/dockerfile:1
# peerwire node image: a static binary on distroless, run as a non-root user,
# with its home (config.toml, data/node.key, data/peerbook.json) in a volume.
#
#   docker build -t peerwire --build-arg COMMIT=$(git rev-parse HEAD) .
#   docker run --rm -v pw:/home/peerwire -p 26656:26656 peerwire init
#   docker run -d   -v pw:/home/peerwire -p 26656:26656 peerwire

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=""
ARG COMMIT=""
# The build context has no .git, so the commit is passed in and stamped.
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X main.stampedVersion=${VERSION} -X main.stampedCommit=${COMMIT}" \
      -o /out/peerwire ./cmd/peerwire
# The home, owned by the runtime user: a named volume mounted here starts
# as a copy of it, so the node can write its key and book.
RUN mkdir -p /out/home/peerwire

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/peerwire /usr/local/bin/peerwire
COPY --from=build --chown=65532:65532 /out/home/peerwire /home/peerwire
# distroless "nonroot" is uid/gid 65532.
USER 65532:65532
ENV PEERWIRE_HOME=/home/peerwire
VOLUME ["/home/peerwire"]
# 26656: peers. 26670: admin API (loopback inside the container by default).
# 26671: the read-only metrics listener when -metrics is set.
EXPOSE 26656 26671
ENTRYPOINT ["/usr/local/bin/peerwire"]
CMD ["node"]
