print("alloydb-auth-proxy")
