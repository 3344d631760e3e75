module libconntrack/bindings/go/conntrack

go 1.19
