module libconntrack/bench/gobind

go 1.19

require libconntrack/bindings/go/conntrack v0.0.0

replace libconntrack/bindings/go/conntrack => ../../bindings/go
