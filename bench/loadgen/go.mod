module kubectl-vol/bench/loadgen

go 1.22
