print("proxy-bench")
