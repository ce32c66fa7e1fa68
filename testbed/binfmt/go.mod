module github.com/multiarch-build-scan-promote/testbed/binfmt

go 1.26
