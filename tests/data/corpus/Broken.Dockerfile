FROM scratch
COPY does-not-exist.txt /
