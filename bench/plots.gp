# The scale benchmarks' plots (bench/scale.sh): gnuplot -e "dir='DIR'" bench/plots.gp
# reads DIR/scale.dat, DIR/isolation.dat and DIR/isolation-goal.dat
# (bench/scale-report.py writes them) and draws three PNGs into DIR.
set terminal pngcairo size 720,440 font "sans,10" noenhanced
set grid
set key below

# latency percentiles against the number of devices
set output dir."/scale-latency.png"
set title "Latency seen by each device (one request in flight per device)"
set logscale xy
set xlabel "concurrent devices (one VM each)"
set ylabel "round trip (us)"
set xtics (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
set autoscale xfix
set offsets graph 0.05, graph 0.05, 0, 0
plot dir."/scale.dat" using 1:3 with linespoints lw 2 pt 7 title "p50", \
     "" using 1:4 with linespoints lw 2 pt 5 title "p99", \
     "" using 1:5 with linespoints lw 2 pt 9 title "p99.9"

# throughput, and the mediator's CPU time per request
set output dir."/scale-throughput.png"
set title "Throughput and the mediator's CPU time per request"
unset logscale y
set ylabel "requests/s"
set y2label "mediator CPU time per request (us)"
set ytics nomirror
set y2tics
set yrange [0:*]
set y2range [0:*]
stats dir."/scale.dat" using 2 nooutput
peak = STATS_max
plot dir."/scale.dat" using 1:2:8:9 axes x1y1 with yerrorlines lw 2 pt 7 \
         title "requests/s (the median round; bars: all rounds)", \
     0.9 * peak axes x1y1 with lines dt 2 lc rgb "gray40" title "90% of the peak (the goal's floor)", \
     "" using 1:6 axes x1y2 with linespoints lw 2 pt 5 title "mediator CPU us/request"

# the high-priority VM alone and beside the low VMs, against the goal
set output dir."/isolation.png"
set title "High-priority VM's round trip, alone and beside low VMs that keep the unit busy"
unset y2label
unset y2tics
set ytics mirror
unset logscale x
set logscale y
set xtics auto
set offsets 0, 0, 0, 0
set yrange [1:*]
set ylabel "round trip (us)"
set xlabel ""
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
goal = real(system("cat ".dir."/isolation-goal.dat"))
plot dir."/isolation.dat" using 2:xtic(1) title "p50", \
     "" using 3 title "p99", \
     "" using 4 title "p99.9", \
     goal with lines lw 2 dt 2 lc rgb "red" title "goal: p99 alone + one low request"
