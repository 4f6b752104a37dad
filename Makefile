# The test command that .ci/run calls (see README.md).
GO ?= go
STATICCHECK ?= $(shell $(GO) env GOPATH)/bin/staticcheck

.PHONY: all build test vet lint fmt-check race

all: build

build:
	$(GO) build -o bin/corral ./cmd/corral

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

lint:
	$(STATICCHECK) ./...

race:
	$(GO) test -race -count=1 -timeout 20m ./...

test: fmt-check vet lint race
