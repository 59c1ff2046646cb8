# vdisk: the filter chain's checksums use ISA-L's CRC32C (libisal-dev).
LDLIBS += -lisal
