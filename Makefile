# The test command that .ci/run calls (see README.md).
GO ?= go

.PHONY: all build test vet lint fmt-check tidy-check race

all: build

# corral-init is a container's PID 1: static (no C library, 1.4 MB less
# resident; see docs/INIT.md).
build:
	$(GO) build -o bin/corral ./cmd/corral
	CGO_ENABLED=0 $(GO) build -o bin/corral-init ./cmd/corral-init

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

lint:
	$(GO) tool staticcheck ./...

# go.mod and go.sum say exactly what the code imports.
tidy-check:
	$(GO) mod tidy -diff

race:
	$(GO) test -race -count=1 -timeout 30m ./...

test: fmt-check tidy-check vet lint race
