module github.com/streamsim/streamsim

go 1.26

require (
	github.com/cockroachdb/datadriven v1.0.3
	github.com/leanovate/gopter v0.2.11
	go.uber.org/goleak v1.3.0
)

require github.com/pmezard/go-difflib v1.0.0 // indirect
